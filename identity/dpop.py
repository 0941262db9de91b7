"""DPoP proofs (RFC 9449): a client proves, request by request, that it holds the private key
an access token is bound to, so a token that leaks is of no use to whoever finds it.

The token names the key by its RFC 7638 thumbprint (``cnf.jkt``, §6.1). Each request carries a
proof: a JWT of type ``dpop+jwt`` signed by that key, whose header holds the public JWK and
whose claims name the request (``htm`` method, ``htu`` URL without query and fragment), the
time (``iat``), a unique ``jti`` and the hash of the access token (``ath``). The checks are
those of §4.3; the replay cache is the caller's (SQL-backed in a connector, so replicas agree).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import jwt

from identity.errors import Reason, TokenError
from identity.keys import SigningKey, b64url, jwk_thumbprint, public_jwk, public_key_from_jwk
from identity.replay import ReplayCache

DPOP_TYP = "dpop+jwt"
#: asymmetric algorithms only (§4.2: never "none" nor a MAC); the keys identity supports
ALGORITHMS = ("EdDSA", "ES256")
#: how old a proof may be (seconds) — it is made for one request, just before it is sent
MAX_AGE_S = 60
#: how far in the future ``iat`` may be (clock skew between the two hosts)
LEEWAY_S = 5
MAX_JTI = 256


class DpopError(TokenError):
    """A DPoP proof was missing, malformed or did not fit the request or the token."""


@dataclass(frozen=True)
class VerifiedProof:
    jkt: str
    jti: str
    iat: int


def access_token_hash(token: str) -> str:
    """``ath`` (§4.2): base64url of the SHA-256 of the token's ASCII text."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


def key_thumbprint(key: SigningKey) -> str:
    """The ``jkt`` an access token bound to ``key`` carries."""
    return jwk_thumbprint(public_jwk(key.public_key))


def normalize_htu(url: str) -> str:
    """The URL as ``htu`` compares it (§4.3 step 9): no query nor fragment, scheme and host in
    lower case, the default port dropped, the path percent-decoded (a client and a server may
    escape it differently), an empty path as ``/``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, unquote(parts.path) or "/", "", ""))


def create_proof(
    key: SigningKey,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    now: float | None = None,
) -> str:
    """A fresh proof for one request; with ``access_token``, bound to it by ``ath``."""
    claims: dict[str, Any] = {
        "jti": str(uuid.uuid4()),
        "htm": method.upper(),
        "htu": normalize_htu(url),
        "iat": int(time.time() if now is None else now),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    headers = {"typ": DPOP_TYP, "jwk": public_jwk(key.public_key)}
    return jwt.encode(claims, key.private_key, algorithm=key.alg.value, headers=headers)


def _fail(detail: str, reason: Reason = Reason.MALFORMED) -> DpopError:
    return DpopError(reason, detail)


async def verify_proof(
    proof: str | None,
    *,
    method: str,
    url: str,
    access_token: str,
    expected_jkt: str,
    replay: ReplayCache,
    now: float | None = None,
) -> VerifiedProof:
    """Check ``proof`` for this request and token (RFC 9449 §4.3 and §7.1); DpopError says
    which check failed. The ``jti`` is remembered only once everything else has passed."""
    if not proof or "," in proof:
        raise _fail("send exactly one DPoP proof in the DPoP header")
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.PyJWTError as exc:
        raise _fail(f"the DPoP proof is not a JWT: {exc}") from None
    if header.get("typ") != DPOP_TYP:
        raise _fail(f"the DPoP proof's typ must be {DPOP_TYP!r}, found {header.get('typ')!r}")
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise _fail(f"the DPoP proof's alg must be one of {ALGORITHMS}", Reason.ALG_NOT_ALLOWED)
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _fail("the DPoP proof's header must carry the public key as 'jwk'")
    if "d" in jwk:
        raise _fail("the DPoP proof's jwk must be a public key")
    public = public_key_from_jwk(jwk)  # TokenError for an unusable or unsupported key
    jkt = jwk_thumbprint(jwk)
    if not hmac.compare_digest(jkt, expected_jkt):
        raise _fail(
            "the DPoP proof is signed by another key than the access token is bound to",
            Reason.HOLDER_MISMATCH,
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            proof,
            public,
            algorithms=[alg],
            options={"require": ["jti", "htm", "htu", "iat"], "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise _fail(f"the DPoP proof does not verify: {exc}", Reason.BAD_SIGNATURE) from None
    if claims["htm"] != method.upper():
        raise _fail(f"the DPoP proof is for {claims['htm']!r}, not {method.upper()!r}")
    htu = claims["htu"]
    if not isinstance(htu, str) or normalize_htu(htu) != normalize_htu(url):
        raise _fail(f"the DPoP proof is for {htu!r}, not {normalize_htu(url)!r}")
    iat = claims["iat"]
    clock = time.time() if now is None else now
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _fail("the DPoP proof's iat must be an integer (seconds)")
    if iat > clock + LEEWAY_S:
        raise _fail("the DPoP proof is issued in the future", Reason.NOT_YET_VALID)
    if iat < clock - MAX_AGE_S:
        raise _fail(f"the DPoP proof is older than {MAX_AGE_S} s", Reason.EXPIRED)
    if claims.get("ath") != access_token_hash(access_token):
        raise _fail("the DPoP proof's ath is not the hash of this access token")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI:
        raise _fail(f"the DPoP proof's jti must be a string of 1 to {MAX_JTI} characters")
    if not await replay.remember(f"dpop:{jkt}:{jti}", iat + MAX_AGE_S + LEEWAY_S):
        raise _fail("the DPoP proof was used before (jti replayed)", Reason.REPLAYED)
    return VerifiedProof(jkt=jkt, jti=jti, iat=iat)
