"""The caller's verified credentials, as policy evaluation needs them at negotiation time and,
kept with the provider's agreement, on every data-plane request.

Constraints on who the consumer is (``agora:credentialType``, ``agora:role``, ``agora:claim`` a
JSON path into the credentials, ``agora:consent`` the purposes of ConsentCredentials) read the
credentials the DCP check verified when the consumer negotiated. The provider keeps them
(``dsp_agreements.consumer_credentials``) only when the agreement has such a constraint: no
personal data is kept that no rule reads. On each request the data plane uses those whose
validity period (``validFrom``/``validUntil``) holds *now*, so an expired consent or membership
stops access at once; signatures, issuers and revocation status were checked at negotiation and
are not re-checked per request (a withdrawn consent is honoured by terminating the transfer).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from policies.values import parse_datetime
from policies.vocab import CLAIM, CONSENT, CREDENTIAL_TYPE, ROLE, normalize_iri
from policies.world import Consent

CLAIM_OPERANDS = frozenset({CREDENTIAL_TYPE, ROLE, CLAIM, CONSENT})
CONSENT_TYPE = "ConsentCredential"

Credential = Mapping[str, Any]


def _left_operands(node: Any) -> Iterable[str]:
    if isinstance(node, list):
        for item in node:
            yield from _left_operands(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "leftOperand":
                raw = value.get("@id") if isinstance(value, dict) else value
                if isinstance(raw, str):
                    yield normalize_iri(raw)
            else:
                yield from _left_operands(value)


def uses_claims(policy: dict[str, Any]) -> bool:
    """Whether any constraint of ``policy`` (an offer or agreement) reads credentials."""
    return any(op in CLAIM_OPERANDS for op in _left_operands(policy))


def _types(vc: Credential) -> list[str]:
    t = vc.get("type", [])
    return [str(x) for x in (t if isinstance(t, list) else [t])]


def consents_of(credentials: Iterable[Credential]) -> list[Consent]:
    """The consents carried by the ConsentCredentials among ``credentials``."""
    out: list[Consent] = []
    for vc in credentials:
        if CONSENT_TYPE in _types(vc):
            try:
                out.extend(Consent.from_credential(vc))
            except (TypeError, ValueError, AttributeError):
                continue  # a malformed validity date: no consent from it
    return out


def _bound(vc: Credential, *keys: str) -> datetime | None:
    for key in keys:
        raw = vc.get(key)
        if isinstance(raw, str):
            try:
                return parse_datetime(raw)
            except ValueError:
                return None
    return None


class HeldCredentials:
    """A consumer's stored credentials, filtered by their validity at a given time."""

    def __init__(self, credentials: Iterable[Credential]) -> None:
        self.all = tuple(credentials)
        self._bounds = [
            (
                vc,
                _bound(vc, "validFrom", "issuanceDate"),
                _bound(vc, "validUntil", "expirationDate"),
            )
            for vc in self.all
        ]
        self._timeless = all(start is None and end is None for _, start, end in self._bounds)
        self._consents = tuple(consents_of(self.all))

    def at(self, now: datetime) -> tuple[tuple[Credential, ...], tuple[Consent, ...]]:
        """The credentials valid at ``now`` and their consents (each consent's own validity is
        checked by the policy engine against the same ``now``)."""
        if self._timeless:
            return self.all, self._consents
        valid = tuple(
            vc
            for vc, start, end in self._bounds
            if (start is None or start <= now) and (end is None or now <= end)
        )
        return valid, tuple(consents_of(valid))

    def lapsed(self, now: datetime) -> str:
        """Plain words for a refusal: which kept credentials are not valid at ``now``."""
        notes = []
        for vc, start, end in self._bounds:
            kind = next((t for t in _types(vc) if t != "VerifiableCredential"), "credential")
            if end is not None and now > end:
                notes.append(f"the consumer's {kind} expired at {end.isoformat()}")
            elif start is not None and now < start:
                notes.append(f"the consumer's {kind} is valid only from {start.isoformat()}")
        return f" ({'; '.join(notes)})" if notes else ""


NO_CREDENTIALS = HeldCredentials(())
