"""Agreements: built by the provider from the accepted offer, signed, and kept by both sides.

The provider signs with a compact JWS with detached payload (RFC 7515 appendix F; ``typ``
``agora-agreement+jws``, ``kid`` = the DID URL of its active key) over the RFC 8785 canonical
JSON of the agreement without the signature itself. On the wire the signature travels inside
the ``ContractAgreementMessage``'s agreement as the extension property :data:`SIGNATURE` (an
absolute IRI, so the JSON-LD needs no extra context; the DSP 2025-1 schemas allow extra
properties). The consumer verifies it against the provider's DID document (``assertionMethod``)
before it stores or verifies the agreement. Both sides store the agreement without that property
and the JWS beside it, so anyone holding both and the provider's DID document can check that the
provider issued exactly these terms.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import jwt
import rfc8785

from connector.dsp.auth import LocalIdentity
from identity.did_document import DidDocument
from identity.errors import IdentityError

JWS_TYP = "agora-agreement+jws"
RULE_KEYS = ("permission", "prohibition", "obligation", "profile")
#: The extension property carrying the provider's JWS inside the agreement on the wire.
SIGNATURE = "https://w3id.org/agora/dsp#providerSignature"
ASSERTION = "assertionMethod"


class SignatureInvalid(Exception):
    """The agreement's provider signature is missing, malformed or does not verify."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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


def unsigned(agreement: dict[str, Any]) -> dict[str, Any]:
    """The agreement without the signature property: what is signed and what is stored."""
    return {k: v for k, v in agreement.items() if k != SIGNATURE}


def canonical(agreement: dict[str, Any]) -> bytes:
    return bytes(rfc8785.dumps(unsigned(agreement)))


def sign_agreement(identity: LocalIdentity, agreement: dict[str, Any]) -> str:
    """The provider's detached compact JWS (``header..signature``) over the agreement."""
    return jwt.api_jws.encode(
        canonical(agreement),
        identity.key.private_key,
        algorithm=identity.key.alg.value,
        headers={"kid": identity.kid, "typ": JWS_TYP},
        is_payload_detached=True,
    )


def signed(agreement: dict[str, Any], jws: str) -> dict[str, Any]:
    """The agreement as sent: with the signature property."""
    return {**unsigned(agreement), SIGNATURE: jws}


def check_signature(jws: object, agreement: dict[str, Any], document: DidDocument) -> str:
    """The JWS if it is the provider's (``document``) signature over exactly ``agreement``;
    otherwise :class:`SignatureInvalid` saying why."""
    if not isinstance(jws, str) or not jws:
        raise SignatureInvalid(f"the agreement carries no provider signature ({SIGNATURE})")
    parts = jws.split(".")
    if len(parts) != 3 or parts[1]:
        raise SignatureInvalid("the provider signature is not a detached compact JWS")
    try:
        header = jwt.get_unverified_header(jws)
    except jwt.PyJWTError as exc:
        raise SignatureInvalid(f"the provider signature's header is malformed: {exc}") from None
    if header.get("typ") != JWS_TYP:
        raise SignatureInvalid(f"the provider signature's typ must be {JWS_TYP}")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid.split("#", 1)[0] not in ("", document.id):
        raise SignatureInvalid("the provider signature's kid is not a key of the provider")
    try:
        method = document.key_for(kid, ASSERTION)
    except IdentityError as exc:
        raise SignatureInvalid(f"the provider signature's key: {exc.detail}") from None
    if header.get("alg") != method.alg.value:
        raise SignatureInvalid(f"the provider signature's alg must be {method.alg.value}")
    try:
        jwt.api_jws.decode(
            jws,
            method.public_key,
            algorithms=[method.alg.value],
            detached_payload=canonical(agreement),
        )
    except jwt.PyJWTError:
        raise SignatureInvalid(
            "the provider signature does not match the agreement's terms"
        ) from None
    return jws
