"""Verifiable credentials (VC Data Model 2.0) secured as VC-JWT, DCP profile ``vc20-bssl/jwt``.

The JWT payload *is* the credential JSON (enveloping proof, VC-JOSE-COSE): no ``vc`` claim.
Registered claims mirror the credential so JWT tooling agrees with the data model:
``iss`` = issuer, ``sub`` = credentialSubject.id, ``jti`` = id, ``nbf`` = validFrom,
``exp`` = validUntil, ``iat`` = time of signing. A verifier checks both views agree.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .contexts import CREDENTIALS_V2, check_contexts
from .errors import IdentityError, Reason, TokenError
from .jwt_codec import DEFAULT_LIMITS, Limits, check_time_claims, verify_jwt
from .resolver import DidResolver
from .signer import Participant

VC_TYP = "vc+jwt"
ACCEPTED_VC_TYPS = frozenset({"vc+jwt", "vc+ld+jwt", "vc-ld+jwt"})  # older drafts in the wild


def to_xsd_datetime(ts: float) -> str:
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_xsd_datetime(value: Any, field: str) -> float:
    if not isinstance(value, str):
        raise TokenError(Reason.INVALID_CLAIMS, f"{field} must be a dateTime string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise TokenError(Reason.INVALID_CLAIMS, f"{field} is not a dateTime: {value}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def issuer_id(credential: dict[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, dict):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def issue_credential(
    issuer: Participant, credential: dict[str, Any], *, now: float | None = None
) -> str:
    """Sign ``credential`` as a VC-JWT; fills ``id`` (urn:uuid) and ``issuer`` when missing."""
    now = time.time() if now is None else now
    body = dict(credential)
    body.setdefault("id", f"urn:uuid:{uuid.uuid4()}")
    body.setdefault("issuer", issuer.did)
    if issuer_id(body) != issuer.did:
        raise IdentityError(Reason.ISSUER_MISMATCH, "credential issuer is not the signer's DID")
    check_contexts(body, CREDENTIALS_V2)
    types = body.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise IdentityError(Reason.INVALID_CLAIMS, "type must list VerifiableCredential")
    subject = body.get("credentialSubject")
    if not isinstance(subject, dict):
        raise IdentityError(Reason.INVALID_CLAIMS, "credentialSubject must be an object")
    claims: dict[str, Any] = {"iss": issuer.did, "jti": body["id"], "iat": int(now)}
    if isinstance(subject.get("id"), str):
        claims["sub"] = subject["id"]
    if "validFrom" in body:
        claims["nbf"] = int(from_xsd_datetime(body["validFrom"], "validFrom"))
    if "validUntil" in body:
        claims["exp"] = int(from_xsd_datetime(body["validUntil"], "validUntil"))
    return issuer.sign({**body, **claims}, VC_TYP)


@dataclass(frozen=True)
class VerifiedCredential:
    """A credential whose signature, shape and validity period were checked.

    Status, trust and holder binding are the verifier's next steps (see ``identity.verifier``).
    """

    id: str | None
    issuer: str
    types: tuple[str, ...]
    subject_id: str | None
    subject: dict[str, Any]
    status: tuple[dict[str, Any], ...]
    valid_from: float | None
    valid_until: float | None
    payload: dict[str, Any]
    token: str

    def has_type(self, type_: str) -> bool:
        return type_ in self.types


def check_credential_body(
    payload: dict[str, Any], signer: str, now: float, leeway: float
) -> VerifiedCredential:
    """Data-model checks shared by VC-JWT and Data Integrity credentials."""
    if "vc" in payload or "vp" in payload:
        raise TokenError(Reason.INVALID_CLAIMS, "vc/vp claims are not allowed in VC 2.0 JWTs")
    try:
        check_contexts(payload, CREDENTIALS_V2)
    except IdentityError as exc:
        raise TokenError(exc.reason, exc.detail) from exc
    types = payload.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise TokenError(Reason.INVALID_CLAIMS, "type must list VerifiableCredential")
    issuer = issuer_id(payload)
    if issuer != signer:
        raise TokenError(Reason.ISSUER_MISMATCH, f"issuer {issuer} is not the signer {signer}")
    subject = payload.get("credentialSubject")
    if not isinstance(subject, dict):
        raise TokenError(Reason.INVALID_CLAIMS, "credentialSubject must be one object")
    subject_id = subject.get("id")
    if "sub" in payload and payload["sub"] != subject_id:
        raise TokenError(Reason.INVALID_CLAIMS, "sub does not match credentialSubject.id")
    if "jti" in payload and "id" in payload and payload["jti"] != payload["id"]:
        raise TokenError(Reason.INVALID_CLAIMS, "jti does not match id")
    valid_from = (
        from_xsd_datetime(payload["validFrom"], "validFrom") if "validFrom" in payload else None
    )
    valid_until = (
        from_xsd_datetime(payload["validUntil"], "validUntil") if "validUntil" in payload else None
    )
    check_validity(payload, valid_from, valid_until, now, leeway)
    status = payload.get("credentialStatus", [])
    status_list = status if isinstance(status, list) else [status]
    if not all(isinstance(s, dict) for s in status_list):
        raise TokenError(Reason.INVALID_CLAIMS, "credentialStatus entries must be objects")
    return VerifiedCredential(
        id=payload.get("id") if isinstance(payload.get("id"), str) else None,
        issuer=signer,
        types=tuple(t for t in types if isinstance(t, str)),
        subject_id=subject_id if isinstance(subject_id, str) else None,
        subject=subject,
        status=tuple(status_list),
        valid_from=valid_from,
        valid_until=valid_until,
        payload=payload,
        token="",
    )


def check_validity(
    payload: dict[str, Any],
    valid_from: float | None,
    valid_until: float | None,
    now: float,
    leeway: float,
) -> None:
    """Both views of the validity period: JWT ``nbf``/``exp`` and VC ``validFrom``/``validUntil``.

    Separate from signature checking so a cached, already verified credential is still checked
    against the current time on every use.
    """
    check_time_claims(payload, now, leeway, require_exp=False, what="credential")
    if valid_from is not None and now + leeway < valid_from:
        raise TokenError(Reason.NOT_YET_VALID, f"credential valid from {payload['validFrom']}")
    if valid_until is not None and now >= valid_until + leeway:
        raise TokenError(Reason.EXPIRED, f"credential expired at {payload['validUntil']}")


async def verify_credential_jwt(
    token: str,
    resolver: DidResolver,
    *,
    now: float | None = None,
    leeway: float = 30.0,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedCredential:
    """Signature (issuer DID, assertionMethod), typ, data-model shape and validity period."""
    now = time.time() if now is None else now
    verified = await verify_jwt(token, resolver, relationship="assertionMethod", limits=limits)
    if verified.header.get("typ") not in ACCEPTED_VC_TYPS:
        raise TokenError(Reason.MALFORMED, f"typ {verified.header.get('typ')!r} is not a VC-JWT")
    vc = check_credential_body(verified.payload, verified.signer, now, leeway)
    return VerifiedCredential(**{**vc.__dict__, "token": token})
