"""Strict JWS/JWT verification shared by ID tokens, VCs, VPs and access tokens.

Order matters for safety: size and nesting limits and the algorithm allow-list are applied
before any key is looked up, the key comes only from the signer's DID document, and the
algorithm is fixed by the key type (so an ``HS256`` token "signed" with a public key or an
``alg: none`` token never reaches a verifier). Signatures are checked by pyjwt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jwt

from . import safe_json
from .did_document import VerificationMethod
from .errors import Reason, TokenError
from .keys import SUPPORTED_ALGS, b64url_decode
from .resolver import DidResolver

# pyjwt's algorithm objects do the signature maths (incl. ES256 raw r||s handling). We call them
# directly rather than through PyJWS.decode: the token is already parsed and limit-checked here,
# and PyJWS's per-character segment validation dominated the cost of a large VP.
_ALGORITHMS = {alg: jwt.get_algorithm_by_name(alg) for alg in SUPPORTED_ALGS}
_SEGMENT = re.compile(r"[A-Za-z0-9_-]*")


@dataclass(frozen=True)
class Limits:
    """Bounds on untrusted tokens: total size and JSON nesting depth."""

    max_bytes: int = 64 * 1024
    max_depth: int = 16


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class UnverifiedJwt:
    header: dict[str, Any]
    payload: dict[str, Any]
    token: str


@dataclass(frozen=True)
class VerifiedJwt:
    header: dict[str, Any]
    payload: dict[str, Any]
    signer: str
    method: VerificationMethod
    token: str


def _load_segment(segment: str, what: str, limits: Limits) -> dict[str, Any]:
    try:
        value = safe_json.loads(b64url_decode(segment), max_depth=limits.max_depth)
    except safe_json.JsonRefused as exc:
        if exc.too_deep:
            raise TokenError(
                Reason.TOKEN_TOO_DEEP, f"{what} nests deeper than {limits.max_depth}"
            ) from None
        raise TokenError(Reason.MALFORMED, f"{what} is not base64url JSON: {exc}") from None
    except ValueError as exc:  # not base64url
        raise TokenError(Reason.MALFORMED, f"{what} is not base64url JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise TokenError(Reason.MALFORMED, f"{what} is not a JSON object")
    return value


def decode_unverified(token: Any, limits: Limits = DEFAULT_LIMITS) -> UnverifiedJwt:
    """Parse a compact JWS without trusting it; enforces limits and the algorithm allow-list."""
    if not isinstance(token, str):
        raise TokenError(Reason.MALFORMED, "token must be a string")
    if len(token) > limits.max_bytes:
        raise TokenError(Reason.TOKEN_TOO_LARGE, f"token is over {limits.max_bytes} bytes")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise TokenError(Reason.MALFORMED, "not a compact JWS (header.payload.signature)")
    if not all(_SEGMENT.fullmatch(p) for p in parts):
        raise TokenError(Reason.MALFORMED, "JWS segments must be unpadded base64url")
    header = _load_segment(parts[0], "header", limits)
    alg = header.get("alg")
    if alg not in SUPPORTED_ALGS:
        raise TokenError(Reason.ALG_NOT_ALLOWED, f"algorithm {alg!r} is not accepted")
    if "crit" in header:
        raise TokenError(Reason.MALFORMED, "critical header parameters are not supported")
    if not parts[2]:
        raise TokenError(Reason.BAD_SIGNATURE, "empty signature")
    payload = _load_segment(parts[1], "payload", limits)
    return UnverifiedJwt(header, payload, token)


def verify_signature(unverified: UnverifiedJwt, method: VerificationMethod) -> None:
    """Check the JWS signature with the method's key, using only the key's own algorithm."""
    if unverified.header["alg"] != method.alg.value:
        raise TokenError(
            Reason.ALG_NOT_ALLOWED,
            f"header alg {unverified.header['alg']} does not match key type {method.alg.value}",
        )
    signing_input, _, signature = unverified.token.rpartition(".")
    try:
        valid = _ALGORITHMS[method.alg.value].verify(
            signing_input.encode("ascii"), method.public_key, b64url_decode(signature)
        )
    except (ValueError, jwt.PyJWTError) as exc:
        raise TokenError(Reason.BAD_SIGNATURE, f"signature does not verify: {exc}") from exc
    if not valid:
        raise TokenError(Reason.BAD_SIGNATURE, "signature does not verify")


async def verify_jwt(
    token: Any,
    resolver: DidResolver,
    *,
    relationship: str,
    limits: Limits = DEFAULT_LIMITS,
    signer_claim: str = "iss",
) -> VerifiedJwt:
    """Verify a JWT signed by the DID in ``signer_claim`` with a key in ``relationship``.

    ``token`` may be an already parsed :class:`UnverifiedJwt` to avoid decoding twice.
    """
    unverified = token if isinstance(token, UnverifiedJwt) else decode_unverified(token, limits)
    signer = unverified.payload.get(signer_claim)
    if not isinstance(signer, str) or not signer.startswith("did:"):
        raise TokenError(Reason.INVALID_CLAIMS, f"{signer_claim} must be a DID")
    kid = unverified.header.get("kid")
    if kid is not None:
        if not isinstance(kid, str):
            raise TokenError(Reason.MALFORMED, "kid must be a string")
        if not kid.startswith("#") and kid.split("#", 1)[0] != signer:
            raise TokenError(Reason.ISSUER_MISMATCH, f"kid {kid} does not belong to {signer}")
    document = await resolver.resolve(signer)
    method = document.key_for(kid, relationship)
    verify_signature(unverified, method)
    return VerifiedJwt(unverified.header, unverified.payload, signer, method, unverified.token)


def check_time_claims(
    payload: dict[str, Any], now: float, leeway: float, *, require_exp: bool, what: str
) -> None:
    """``nbf``/``exp`` as NumericDate with leeway; specific reasons for each failure."""
    for claim in ("exp", "nbf", "iat"):
        value = payload.get(claim)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise TokenError(Reason.INVALID_CLAIMS, f"{what}: {claim} must be a number")
    exp = payload.get("exp")
    if exp is None and require_exp:
        raise TokenError(Reason.INVALID_CLAIMS, f"{what}: exp is required")
    if exp is not None and now >= exp + leeway:
        raise TokenError(Reason.EXPIRED, f"{what} expired at {exp}")
    nbf = payload.get("nbf")
    if nbf is not None and now + leeway < nbf:
        raise TokenError(Reason.NOT_YET_VALID, f"{what} is not valid before {nbf}")


def check_audience(payload: dict[str, Any], expected: str, what: str) -> None:
    aud = payload.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if expected not in audiences:
        raise TokenError(Reason.WRONG_AUDIENCE, f"{what} is for {aud!r}, not {expected}")
