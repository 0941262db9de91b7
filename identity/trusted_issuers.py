"""The data space's trusted-issuers list, shaped after the EBSI Trusted Issuers Registry.

Each issuer DID has an issuer type (RootTAO / TAO / TI / Revoked) and accreditations: which
credential types it may issue, which claim values those credentials may carry (e.g. a city
registry may issue ParticipantCredential only with ``role`` = ``city``), and for how long.
The authority publishes it; every verifier consults it after checking signatures.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .credentials import VerifiedCredential, from_xsd_datetime, to_xsd_datetime
from .errors import CredentialError, IdentityError, Reason

BASE_TYPE = "VerifiableCredential"
ISSUER_TYPES = frozenset({"RootTAO", "TAO", "TI", "Revoked"})


@dataclass(frozen=True)
class Accreditation:
    credential_types: frozenset[str]
    allowed_claims: dict[str, frozenset[Any]] = field(default_factory=dict)
    valid_from: float | None = None
    valid_until: float | None = None

    def active(self, now: float) -> bool:
        return (self.valid_from is None or self.valid_from <= now) and (
            self.valid_until is None or now < self.valid_until
        )

    def claims_ok(self, subject: dict[str, Any]) -> str | None:
        """None if every constrained claim is within its allowed values, else the bad path."""
        for path, allowed in self.allowed_claims.items():
            value: Any = subject
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            values = value if isinstance(value, list) else [value]
            if any(_freeze(v) not in allowed for v in values):
                return path
        return None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"credentialTypes": sorted(self.credential_types)}
        if self.allowed_claims:
            out["allowedClaims"] = {k: sorted(v, key=str) for k, v in self.allowed_claims.items()}
        if self.valid_from is not None:
            out["validFrom"] = to_xsd_datetime(self.valid_from)
        if self.valid_until is not None:
            out["validUntil"] = to_xsd_datetime(self.valid_until)
        return out

    @staticmethod
    def from_json(data: dict[str, Any]) -> Accreditation:
        return Accreditation(
            frozenset(data["credentialTypes"]),
            {k: frozenset(_freeze(x) for x in v) for k, v in data.get("allowedClaims", {}).items()},
            from_xsd_datetime(data["validFrom"], "validFrom") if "validFrom" in data else None,
            from_xsd_datetime(data["validUntil"], "validUntil") if "validUntil" in data else None,
        )


def _freeze(value: Any) -> Any:
    """Claim values as hashable, comparable items (JSON objects/arrays by canonical text)."""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


@dataclass
class TrustedIssuer:
    did: str
    issuer_type: str = "TI"
    accreditations: list[Accreditation] = field(default_factory=list)
    accredited_by: str | None = None


class TrustedIssuersList:
    """Issuer DID -> accreditations. JSON round-trips through :meth:`to_json`/:meth:`from_json`."""

    def __init__(self, issuers: list[TrustedIssuer] | None = None) -> None:
        self._issuers: dict[str, TrustedIssuer] = {i.did: i for i in issuers or []}

    def add(
        self,
        did: str,
        credential_types: list[str] | set[str],
        *,
        allowed_claims: dict[str, list[Any]] | None = None,
        valid_from: float | None = None,
        valid_until: float | None = None,
        issuer_type: str = "TI",
        accredited_by: str | None = None,
    ) -> None:
        entry = self._issuers.setdefault(did, TrustedIssuer(did, issuer_type, [], accredited_by))
        entry.accreditations.append(
            Accreditation(
                frozenset(credential_types),
                {k: frozenset(_freeze(x) for x in v) for k, v in (allowed_claims or {}).items()},
                valid_from,
                valid_until,
            )
        )

    def revoke_issuer(self, did: str) -> None:
        if did in self._issuers:
            self._issuers[did].issuer_type = "Revoked"

    def get(self, did: str) -> TrustedIssuer | None:
        return self._issuers.get(did)

    def check(self, credential: VerifiedCredential, now: float) -> None:
        """Raise UNTRUSTED_ISSUER, TYPE_NOT_ALLOWED or CLAIM_NOT_ALLOWED, else return."""
        issuer = self._issuers.get(credential.issuer)
        if issuer is None or issuer.issuer_type == "Revoked":
            raise CredentialError(
                Reason.UNTRUSTED_ISSUER, f"{credential.issuer} is not a trusted issuer"
            )
        types = {t for t in credential.types if t != BASE_TYPE}
        covering = [a for a in issuer.accreditations if types <= a.credential_types]
        if not covering:
            raise CredentialError(
                Reason.TYPE_NOT_ALLOWED,
                f"{credential.issuer} is not accredited for {sorted(types)}",
            )
        live = [a for a in covering if a.active(now)]
        if not live:
            raise CredentialError(
                Reason.UNTRUSTED_ISSUER,
                f"{credential.issuer}'s accreditation for {sorted(types)} is not in force",
            )
        bad = None
        for accreditation in live:
            bad = accreditation.claims_ok(credential.subject)
            if bad is None:
                return
        raise CredentialError(
            Reason.CLAIM_NOT_ALLOWED, f"claim {bad} is outside what {credential.issuer} may assert"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "issuers": [
                {
                    "did": i.did,
                    "issuerType": i.issuer_type,
                    **({"accreditedBy": i.accredited_by} if i.accredited_by else {}),
                    "accreditations": [a.to_json() for a in i.accreditations],
                }
                for i in self._issuers.values()
            ]
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrustedIssuersList:
        try:
            issuers = []
            for item in data["issuers"]:
                if item.get("issuerType", "TI") not in ISSUER_TYPES:
                    raise ValueError(f"unknown issuerType {item.get('issuerType')}")
                issuers.append(
                    TrustedIssuer(
                        item["did"],
                        item.get("issuerType", "TI"),
                        [Accreditation.from_json(a) for a in item.get("accreditations", [])],
                        item.get("accreditedBy"),
                    )
                )
        except (KeyError, TypeError, ValueError) as exc:
            raise IdentityError(Reason.MALFORMED, f"bad trusted-issuers list: {exc}") from exc
        return cls(issuers)
