"""Signing keys: Ed25519 (EdDSA) and P-256 (ES256), their JWKs, and encrypted PKCS8 storage.

A key's ``kid`` is its RFC 7638 JWK thumbprint, so the same public key always gets the same id
and a DID document can be rebuilt from the key alone.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from .errors import KeyStoreError, Reason, TokenError

PASSPHRASE_ENV = "AGORA_KEY_PASSPHRASE"

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class KeyAlg(StrEnum):
    """The JWS algorithms we sign and accept. Anything else is refused before key lookup."""

    EDDSA = "EdDSA"
    ES256 = "ES256"


SUPPORTED_ALGS: frozenset[str] = frozenset(a.value for a in KeyAlg)


def b64url(data: bytes) -> str:
    """Unpadded base64url, the JOSE encoding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def alg_for_public_key(key: PublicKey) -> KeyAlg:
    """The only algorithm a given public key may verify (prevents algorithm confusion)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        return KeyAlg.EDDSA
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return KeyAlg.ES256
    raise TokenError(Reason.ALG_NOT_ALLOWED, f"unsupported key type {type(key).__name__}")


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """Public JWK (without kid) through pyjwt's serializers."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    assert isinstance(jwk, dict)
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order."""
    required = ("crv", "kty", "x") if jwk.get("kty") == "OKP" else ("crv", "kty", "x", "y")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode()).digest())


def public_key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """Parse a public JWK (Ed25519 or P-256 only) into a key object via pyjwt."""
    if "d" in jwk:
        raise TokenError(Reason.MALFORMED, "a private JWK was published as a verification method")
    try:
        key = jwt.PyJWK({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}).key
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise TokenError(Reason.MALFORMED, f"unusable JWK: {exc}") from exc
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise TokenError(Reason.ALG_NOT_ALLOWED, f"unsupported JWK kty={jwk.get('kty')}")


def _passphrase(passphrase: str | bytes | None) -> bytes:
    """Passphrase from the argument, else from ``AGORA_KEY_PASSPHRASE``; never empty."""
    if passphrase is None:
        passphrase = os.environ.get(PASSPHRASE_ENV)
    if not passphrase:
        raise KeyStoreError(
            Reason.KEY_STORE, f"a passphrase is required (argument or ${PASSPHRASE_ENV})"
        )
    return passphrase.encode() if isinstance(passphrase, str) else passphrase


@dataclass(frozen=True)
class SigningKey:
    """A private key with its algorithm and thumbprint kid."""

    private_key: PrivateKey
    alg: KeyAlg
    kid: str = field(default="")

    @staticmethod
    def generate(alg: KeyAlg | str = KeyAlg.EDDSA) -> SigningKey:
        alg = KeyAlg(alg)
        private: PrivateKey
        if alg is KeyAlg.EDDSA:
            private = ed25519.Ed25519PrivateKey.generate()
        else:
            private = ec.generate_private_key(ec.SECP256R1())
        return SigningKey.from_private_key(private)

    @staticmethod
    def from_private_key(private: PrivateKey) -> SigningKey:
        alg = alg_for_public_key(private.public_key())
        return SigningKey(private, alg, jwk_thumbprint(public_jwk(private.public_key())))

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    def public_jwk(self) -> dict[str, Any]:
        """Public JWK with ``kid`` and ``alg``, ready for a DID document or a JWKS."""
        return {**public_jwk(self.public_key), "kid": self.kid, "alg": self.alg.value}

    def sign_jwt(self, payload: dict[str, Any], *, kid: str, typ: str) -> str:
        """Compact JWS over ``payload``; ``kid`` is the DID URL of the verification method."""
        return jwt.encode(
            payload, self.private_key, algorithm=self.alg.value, headers={"kid": kid, "typ": typ}
        )

    def to_encrypted_pem(self, passphrase: str | bytes | None = None) -> bytes:
        """PKCS8 PEM encrypted with the passphrase (argument or environment)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(_passphrase(passphrase)),
        )

    @staticmethod
    def from_encrypted_pem(pem: bytes, passphrase: str | bytes | None = None) -> SigningKey:
        try:
            private = serialization.load_pem_private_key(pem, password=_passphrase(passphrase))
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(Reason.KEY_STORE, f"cannot decrypt key: {exc}") from exc
        if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
            raise KeyStoreError(Reason.KEY_STORE, "unsupported private key type")
        return SigningKey.from_private_key(private)
