"""A participant's signing identity: its DID plus its key ring.

Ties the JWS ``kid`` to the DID document: a did:key's single method id, or ``<did>#<thumbprint>``
as written by :func:`identity.did_document.build_did_document`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .did_document import DidDocument, build_did_document
from .did_key import did_key_from_public_key, did_key_kid, resolve_did_key
from .keyring import KeyRing


@dataclass
class Participant:
    did: str
    keyring: KeyRing

    @classmethod
    def with_did_key(cls, keyring: KeyRing) -> Participant:
        return cls(did_key_from_public_key(keyring.active.public_key), keyring)

    @property
    def kid(self) -> str:
        if self.did.startswith("did:key:"):
            return did_key_kid(self.did)
        return f"{self.did}#{self.keyring.active.kid}"

    def sign(self, payload: dict[str, Any], typ: str) -> str:
        return self.keyring.active.sign_jwt(payload, kid=self.kid, typ=typ)

    def did_document(
        self,
        *,
        credential_service: str | None = None,
        dsp_endpoint: str | None = None,
        dsp_properties: dict[str, Any] | None = None,
        extra_services: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The did:web document to publish: all ring keys (active and retired) plus services."""
        return build_did_document(
            self.did,
            [k.public_jwk() for k in self.keyring.keys()],
            credential_service=credential_service,
            dsp_endpoint=dsp_endpoint,
            dsp_properties=dsp_properties,
            extra_services=extra_services,
        )

    def document(self) -> DidDocument:
        """Our own parsed DID document, for checking tokens we issued without any network."""
        if self.did.startswith("did:key:"):
            return resolve_did_key(self.did)
        return DidDocument.parse(self.did_document(), self.did)
