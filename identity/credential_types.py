"""Agora's credential types as typed, validated builders and parsers (pydantic v2).

The models describe ``credentialSubject``; :meth:`to_credential` wraps them in a VC 2.0
envelope ready for :func:`identity.credentials.issue_credential`, and :func:`parse_claims` turns
a verified credential back into its model so the connector never reads raw JSON claims.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .contexts import AGORA_V1, CREDENTIALS_V2, STATUS_LIST_V1
from .credentials import VerifiedCredential, to_xsd_datetime
from .errors import IdentityError, Reason

DID_PATTERN = r"^did:[a-z0-9]+:[A-Za-z0-9._:%\-]+$"


class CredentialClaims(BaseModel):
    """Common shape: the subject ``id`` (a DID) plus type-specific claims."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)
    credential_type: ClassVar[str] = ""
    requires_status: ClassVar[bool] = False

    id: str = Field(pattern=DID_PATTERN, max_length=2048)

    def to_credential(
        self,
        issuer: str,
        *,
        valid_from: float | None = None,
        valid_until: float | None = None,
        status: list[dict[str, Any]] | None = None,
        credential_id: str | None = None,
    ) -> dict[str, Any]:
        if self.requires_status and not status:
            raise IdentityError(
                Reason.INVALID_CLAIMS, f"{self.credential_type} must carry a revocation status"
            )
        contexts = [CREDENTIALS_V2, AGORA_V1] + ([STATUS_LIST_V1] if status else [])
        credential: dict[str, Any] = {
            "@context": contexts,
            "type": ["VerifiableCredential", self.credential_type],
            "issuer": issuer,
            "validFrom": to_xsd_datetime(time.time() if valid_from is None else valid_from),
            "credentialSubject": self.model_dump(by_alias=True, exclude_none=True),
        }
        if credential_id:
            credential["id"] = credential_id
        if valid_until is not None:
            credential["validUntil"] = to_xsd_datetime(valid_until)
        if status:
            credential["credentialStatus"] = status
        return credential

    @classmethod
    def from_credential(cls, credential: VerifiedCredential | dict[str, Any]) -> Self:
        payload = credential.payload if isinstance(credential, VerifiedCredential) else credential
        if cls.credential_type not in payload.get("type", []):
            raise IdentityError(Reason.INVALID_CLAIMS, f"not a {cls.credential_type}")
        try:
            return cls.model_validate(payload.get("credentialSubject"))
        except ValidationError as exc:
            raise IdentityError(
                Reason.INVALID_CLAIMS, f"{cls.credential_type}: {exc.errors()[0]['msg']}"
            ) from exc


class MembershipCredential(CredentialClaims):
    """Issued by the data-space authority: the subject is a member of ``memberOf``."""

    credential_type: ClassVar[str] = "MembershipCredential"
    member_of: str = Field(alias="memberOf", min_length=1, max_length=2048)
    membership_level: str = Field(default="member", alias="membershipLevel", max_length=64)
    since: str | None = None


class ParticipantCredential(CredentialClaims):
    """Who the participant is: legal name, role in the data space and country."""

    credential_type: ClassVar[str] = "ParticipantCredential"
    legal_name: str = Field(alias="legalName", min_length=1, max_length=300)
    #: ``authority``: the data-space authority's own credential about itself (it issues it)
    role: Literal["city", "company", "civic", "auditor", "authority"]
    country: str = Field(pattern=r"^[A-Z]{2}$")


class ConsentCredential(CredentialClaims):
    """A resident (or resident group, ``id``) consents that ``grantee`` uses data for ``purpose``.

    Consent can be withdrawn at any time, so the credential must carry a revocation status.
    """

    credential_type: ClassVar[str] = "ConsentCredential"
    requires_status: ClassVar[bool] = True
    resident_group: bool = Field(default=False, alias="residentGroup")
    purpose: str = Field(min_length=1, max_length=2048)
    grantee: str = Field(pattern=DID_PATTERN, max_length=2048)
    dataset: list[str] = Field(default_factory=list, max_length=100)

    @field_validator("purpose")
    @classmethod
    def _purpose_is_iri(cls, value: str) -> str:
        if ":" not in value or " " in value:
            raise ValueError("purpose must be an IRI")
        return value


class AuditorCredential(CredentialClaims):
    """An accredited auditor/regulator allowed read-only audit access."""

    credential_type: ClassVar[str] = "AuditorCredential"
    accreditation: str = Field(min_length=1, max_length=300)
    jurisdiction: str = Field(pattern=r"^[A-Z]{2}$")


CREDENTIAL_TYPES: dict[str, type[CredentialClaims]] = {
    c.credential_type: c
    for c in (MembershipCredential, ParticipantCredential, ConsentCredential, AuditorCredential)
}


def parse_claims(credential: VerifiedCredential) -> CredentialClaims | None:
    """The typed claims of a verified credential, or None for types Agora does not define."""
    for type_ in credential.types:
        model = CREDENTIAL_TYPES.get(type_)
        if model is not None:
            return model.from_credential(credential)
    return None
