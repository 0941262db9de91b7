"""DCP Self-Issued ID Tokens: create (caller side) and validate (callee side).

Follows the DCP base protocol: ``iss`` = ``sub`` = caller DID, ``aud`` = callee DID, ``jti``
against replay, ``exp``/``iat`` required, signature by a ``capabilityInvocation`` key of the
caller's DID document. An optional ``token`` claim grants access to the caller's Credential
Service.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from .errors import Reason, TokenError
from .jwt_codec import Limits, check_audience, check_time_claims, decode_unverified, verify_jwt
from .replay import ReplayCache
from .resolver import DidResolver
from .signer import Participant

ID_TOKEN_LIMITS = Limits(max_bytes=16 * 1024, max_depth=8)
#: Longest ``exp - iat`` accepted. A self-issued token is minted per request; a long-lived one
#: is a bearer credential that a thief can replay against every other party until it expires.
MAX_LIFETIME_S = 300.0


def create_id_token(
    caller: Participant,
    audience: str,
    *,
    token: str | None = None,
    ttl: float = 300.0,
    now: float | None = None,
) -> str:
    now = time.time() if now is None else now
    payload: dict[str, Any] = {
        "iss": caller.did,
        "sub": caller.did,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": int(now),
        "exp": int(now + ttl),
    }
    if token is not None:
        payload["token"] = token
    return caller.sign(payload, "JWT")


@dataclass(frozen=True)
class IdTokenClaims:
    did: str
    audience: str
    jti: str
    expires_at: float
    access_token: str | None
    payload: dict[str, Any]


async def verify_id_token(
    token: str,
    resolver: DidResolver,
    *,
    audience: str,
    replay_cache: ReplayCache,
    now: float | None = None,
    leeway: float = 30.0,
    max_age: float = 3600.0,
    max_lifetime: float = MAX_LIFETIME_S,
    limits: Limits = ID_TOKEN_LIMITS,
) -> IdTokenClaims:
    """Validate per DCP; cheap claim checks run before the caller's DID is resolved.

    ``iat`` and ``exp`` are both required and ``exp - iat`` may not exceed ``max_lifetime``.
    """
    now = time.time() if now is None else now
    unverified = decode_unverified(token, limits)
    payload = unverified.payload
    iss, sub = payload.get("iss"), payload.get("sub")
    if not isinstance(iss, str) or iss != sub:
        raise TokenError(Reason.INVALID_CLAIMS, "iss and sub must be the same DID")
    check_audience(payload, audience, "ID token")
    check_time_claims(payload, now, leeway, require_exp=True, what="ID token")
    iat = payload.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise TokenError(Reason.INVALID_CLAIMS, "ID token: iat is required")
    if iat > now + leeway:
        raise TokenError(Reason.NOT_YET_VALID, "ID token issued in the future")
    if now - iat > max_age:
        raise TokenError(Reason.EXPIRED, f"ID token older than {max_age} s")
    lifetime = float(payload["exp"]) - float(iat)
    if lifetime > max_lifetime:
        raise TokenError(
            Reason.INVALID_CLAIMS,
            f"ID token lifetime exp - iat = {lifetime:g} s exceeds the allowed {max_lifetime:g} s",
        )
    if lifetime <= 0:
        raise TokenError(Reason.INVALID_CLAIMS, "ID token expires before it was issued")
    jti = payload.get("jti")
    if not isinstance(jti, str) or not jti:
        raise TokenError(Reason.INVALID_CLAIMS, "jti is required")
    access = payload.get("token")
    if access is not None and not isinstance(access, str):
        raise TokenError(Reason.INVALID_CLAIMS, "token claim must be a string")
    await verify_jwt(unverified, resolver, relationship="capabilityInvocation", limits=limits)
    if not await replay_cache.remember(f"{iss}|{jti}", float(payload["exp"]) + leeway):
        raise TokenError(Reason.REPLAYED, f"jti {jti} was already used")
    return IdTokenClaims(iss, audience, jti, float(payload["exp"]), access, payload)
