"""did:key for Ed25519 and P-256: the DID is the public key, so it resolves without network."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from .did_document import DID_CONTEXT, JWS_2020_CONTEXT, RELATIONSHIPS, DidDocument
from .errors import IdentityError, Reason, ResolutionError
from .keys import PublicKey, public_jwk
from .multibase import multibase_b58_decode, multibase_b58_encode, varint_decode, varint_encode

ED25519_PUB = 0xED
P256_PUB = 0x1200


def did_key_from_public_key(key: PublicKey) -> str:
    """did:key with the multicodec-prefixed raw (Ed25519) or compressed (P-256) public key."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "did:key:" + multibase_b58_encode(varint_encode(ED25519_PUB) + raw)
    raw = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return "did:key:" + multibase_b58_encode(varint_encode(P256_PUB) + raw)


def public_key_from_did_key(did: str) -> PublicKey:
    if not did.startswith("did:key:z"):
        raise ResolutionError(Reason.DID_UNRESOLVABLE, f"not a base58btc did:key: {did[:60]}")
    try:
        data = multibase_b58_decode(did[len("did:key:") :])
        codec, used = varint_decode(data)
        raw = data[used:]
        if codec == ED25519_PUB and len(raw) == 32:
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if codec == P256_PUB and len(raw) == 33:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except (IdentityError, ValueError) as exc:
        raise ResolutionError(Reason.DID_UNRESOLVABLE, f"bad did:key: {exc}") from exc
    raise ResolutionError(Reason.DID_UNRESOLVABLE, f"unsupported did:key codec {codec:#x}")


def did_key_document_json(did: str) -> dict[str, Any]:
    """The DID document a did:key expands to: one JsonWebKey2020 method, all relationships."""
    key = public_key_from_did_key(did)
    vm_id = f"{did}#{did[len('did:key:') :]}"
    return {
        "@context": [DID_CONTEXT, JWS_2020_CONTEXT],
        "id": did,
        "verificationMethod": [
            {
                "id": vm_id,
                "type": "JsonWebKey2020",
                "controller": did,
                "publicKeyJwk": public_jwk(key),
            }
        ],
        **{rel: [vm_id] for rel in RELATIONSHIPS},
    }


def resolve_did_key(did: str) -> DidDocument:
    return DidDocument.parse(did_key_document_json(did), did)


def did_key_kid(did: str) -> str:
    """The DID URL to put in a JWS ``kid`` when signing as a did:key."""
    return f"{did}#{did[len('did:key:') :]}"
