"""Agreements: built by the provider from the accepted offer, signed, and kept by both sides.

The signature is a compact JWS (EdDSA, ``kid`` = the provider's DID URL ``#key-1``) over the
RFC 8785 canonical JSON of the agreement, so anyone holding the agreement and the provider's
DID document can check that the provider issued exactly these terms.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from connector.dsp.auth import LocalIdentity

JWS_TYP = "agora-agreement+jws"
RULE_KEYS = ("permission", "prohibition", "obligation", "profile")


def build_agreement(
    offer: dict[str, Any], *, target: str, assigner: str, assignee: str
) -> dict[str, Any]:
    """An ODRL Agreement with the offer's rules, bound to the two parties and a timestamp."""
    agreement: dict[str, Any] = {
        "@id": f"urn:uuid:{uuid.uuid4()}",
        "@type": "Agreement",
        "target": target,
        "assigner": assigner,
        "assignee": assignee,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    for key in RULE_KEYS:
        if key in offer:
            agreement[key] = offer[key]
    return agreement


def canonical(agreement: dict[str, Any]) -> bytes:
    return rfc8785.dumps(agreement)


def sign_agreement(identity: LocalIdentity, agreement: dict[str, Any]) -> str:
    return jwt.api_jws.encode(
        canonical(agreement),
        identity.key.private_key,
        algorithm=identity.key.alg.value,
        headers={"kid": identity.kid, "typ": JWS_TYP},
    )


def verify_agreement_signature(
    jws: str, agreement: dict[str, Any], public_key: Ed25519PublicKey
) -> bool:
    """True when ``jws`` signs exactly ``agreement`` (canonical form) with ``public_key``."""
    try:
        payload = jwt.api_jws.decode(jws, public_key, algorithms=["EdDSA"])
    except jwt.PyJWTError:
        return False
    return bool(payload == canonical(agreement))
