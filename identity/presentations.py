"""Verifiable presentations as VP-JWT (VC-JOSE-COSE), bound to an audience and a nonce.

Credentials travel inside as ``EnvelopedVerifiableCredential`` data URLs, so each keeps its own
issuer signature; the holder's signature over the whole binds them to this verifier and nonce,
which stops a captured presentation being replayed elsewhere.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from .contexts import CREDENTIALS_V2, check_contexts
from .errors import IdentityError, Reason, TokenError
from .jwt_codec import Limits, check_audience, check_time_claims, verify_jwt
from .resolver import DidResolver
from .signer import Participant

VP_TYP = "vp+jwt"
ACCEPTED_VP_TYPS = frozenset({"vp+jwt", "vp+ld+jwt", "vp-ld+jwt"})  # older drafts in the wild
VC_DATA_URL = "data:application/vc+jwt,"
VP_LIMITS = Limits(max_bytes=512 * 1024, max_depth=16)


def envelope(vc_jwt: str) -> dict[str, Any]:
    return {
        "@context": CREDENTIALS_V2,
        "id": VC_DATA_URL + vc_jwt,
        "type": "EnvelopedVerifiableCredential",
    }


def create_presentation(
    holder: Participant,
    credentials: list[str],
    *,
    audience: str,
    nonce: str,
    ttl: float = 300.0,
    now: float | None = None,
) -> str:
    now = time.time() if now is None else now
    payload = {
        "@context": [CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "id": f"urn:uuid:{uuid.uuid4()}",
        "holder": holder.did,
        "verifiableCredential": [envelope(c) for c in credentials],
        "iss": holder.did,
        "aud": audience,
        "nonce": nonce,
        "jti": f"urn:uuid:{uuid.uuid4()}",
        "iat": int(now),
        "exp": int(now + ttl),
    }
    return holder.sign(payload, VP_TYP)


@dataclass(frozen=True)
class VerifiedPresentation:
    holder: str
    credentials: tuple[str, ...]
    payload: dict[str, Any]


def _unwrap(entry: Any) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and entry.get("type") == "EnvelopedVerifiableCredential":
        ident = entry.get("id")
        if isinstance(ident, str) and ident.startswith(VC_DATA_URL):
            return ident[len(VC_DATA_URL) :]
    raise TokenError(Reason.UNSUPPORTED, "only enveloped VC-JWT credentials are supported")


async def verify_presentation(
    token: str,
    resolver: DidResolver,
    *,
    audience: str,
    nonce: str | None,
    now: float | None = None,
    leeway: float = 30.0,
    limits: Limits = VP_LIMITS,
) -> VerifiedPresentation:
    """Holder signature (authentication key), typ, audience, nonce and validity period."""
    now = time.time() if now is None else now
    verified = await verify_jwt(token, resolver, relationship="authentication", limits=limits)
    payload = verified.payload
    if verified.header.get("typ") not in ACCEPTED_VP_TYPS:
        raise TokenError(Reason.MALFORMED, f"typ {verified.header.get('typ')!r} is not a VP-JWT")
    try:
        check_contexts(payload, CREDENTIALS_V2)
    except IdentityError as exc:
        raise TokenError(exc.reason, exc.detail) from exc
    types = payload.get("type")
    if not isinstance(types, list) or "VerifiablePresentation" not in types:
        raise TokenError(Reason.INVALID_CLAIMS, "type must list VerifiablePresentation")
    holder = payload.get("holder", verified.signer)
    if holder != verified.signer:
        raise TokenError(Reason.HOLDER_MISMATCH, "presentation holder is not its signer")
    check_audience(payload, audience, "presentation")
    if nonce is not None and payload.get("nonce") != nonce:
        raise TokenError(Reason.WRONG_NONCE, "presentation nonce does not match")
    check_time_claims(payload, now, leeway, require_exp=True, what="presentation")
    entries = payload.get("verifiableCredential", [])
    if not isinstance(entries, list):
        entries = [entries]
    return VerifiedPresentation(verified.signer, tuple(_unwrap(e) for e in entries), payload)
