"""Signers and verifiers for tree heads and receipts (Ed25519 or ECDSA P-256 from `cryptography`).

The ledger does not manage keys or DIDs: the caller hands a :class:`Signer` (anything with
``sign(message) -> bytes`` and a ``kid``) and, to verify, the matching public key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import SignatureError

PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class Signer(Protocol):
    """Signs messages with one key named ``kid`` (e.g. a DID URL of a verification method)."""

    @property
    def kid(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class KeySigner:
    """A :class:`Signer` over an Ed25519 or P-256 private key held in memory."""

    private_key: PrivateKey
    kid: str

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.private_key, ed25519.Ed25519PrivateKey):
            return self.private_key.sign(message)
        if not isinstance(self.private_key.curve, ec.SECP256R1):
            raise SignatureError("only Ed25519 and P-256 keys can sign ledger messages")
        return self.private_key.sign(message, ec.ECDSA(hashes.SHA256()))

    def public_key(self) -> PublicKey:
        return self.private_key.public_key()


@dataclass(frozen=True)
class CallableSigner:
    """A :class:`Signer` around a caller's function (e.g. one that asks a KMS or a wallet)."""

    function: Callable[[bytes], bytes]
    kid: str

    def sign(self, message: bytes) -> bytes:
        return self.function(message)


def verify_signature(public_key: PublicKey, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` (Ed25519, or DER ECDSA P-256/SHA-256) signs ``message``."""
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, message)
        else:
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


class VerifiedSignatures:
    """Signatures already checked, remembered by key, message and signature.

    Receipts of one batch share a countersignature and receipts of one delivery a tree head;
    checking each again would repeat the same verification. Only successes and failures of the
    exact same bytes are remembered, so nothing is ever accepted that was not verified.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._seen: dict[tuple[bytes, bytes, bytes], bool] = {}
        self._key: tuple[PublicKey, bytes] | None = None  # the last key and its raw bytes

    def verify(self, public_key: PublicKey, message: bytes, signature: bytes) -> bool:
        last = self._key
        if last is None or last[0] is not public_key:
            last = self._key = (public_key, _raw(public_key))
        key = (last[1], message, signature)
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) >= self.size:
                self._seen.clear()
            found = self._seen[key] = verify_signature(public_key, message, signature)
        return found


def _raw(public_key: PublicKey) -> bytes:
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return public_key.public_bytes_raw()
    return public_key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
