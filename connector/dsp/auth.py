"""The authentication seam of every DSP call, both directions.

* :class:`CallerAuthenticator` (callee side): who sent this request, with what verified claims.
* :class:`TokenIssuer` (caller side): the bearer token to put on a request to a peer.

The implementations here are the DCP Self-Issued ID Token profile from ``identity``: the caller
signs a short-lived JWT (``iss`` = ``sub`` = its DID, ``aud`` = the callee's DID, ``jti``) with
the key published in its did:web document, and the callee verifies it against that document,
resolved over HTTP only towards allowed hosts, with replay protection. Fetching the caller's
verifiable presentations from its Credential Service is the next step of DCP and plugs in
through :class:`CredentialFetcher`; until it is wired, ``Caller.credentials`` is empty.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from connector.config import Settings
from connector.http.context import ConnectorContext
from connector.keys import participant_of
from connector.outbound import peer_policy
from identity.did_document import DidDocument
from identity.errors import IdentityError
from identity.id_token import create_id_token, verify_id_token
from identity.keys import SigningKey
from identity.replay import InMemoryReplayCache
from identity.resolver import DidResolver
from identity.signer import Participant


@dataclass(frozen=True)
class Caller:
    """A verified caller: its DID, its verified credentials (VC payloads) and token claims."""

    did: str
    credentials: tuple[dict[str, Any], ...] = ()
    claims: dict[str, Any] = field(default_factory=dict)


class AuthenticationFailed(Exception):
    """No usable bearer token, or it did not verify; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CallerAuthenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Caller:
        """The verified caller of ``request`` or :class:`AuthenticationFailed`."""
        ...


class TokenIssuer(Protocol):
    async def token_for(self, audience_did: str) -> str:
        """A bearer token this participant presents to ``audience_did``."""
        ...


class CredentialFetcher(Protocol):
    async def credentials(self, did: str, claims: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        """The caller's verified credentials (DCP presentation query), given its ID token."""
        ...


class NoCredentials:
    """Credential fetching not wired yet: the caller is known by its DID only."""

    async def credentials(self, did: str, claims: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        return ()


class LocalIdentity:
    """This participant's DID and key ring as an ``identity.Participant``.

    The key ring is the connector's shared one (``connector.keys.participant_of``); the DID is
    read from the settings at each use because it is only final once the server has its port.
    """

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self._participant: Participant | None = None

    @property
    def did(self) -> str:
        return self.ctx.settings.did

    def participant(self) -> Participant:
        if self._participant is None or self._participant.did != self.did:
            self._participant = Participant(self.did, participant_of(self.ctx).keyring)
        return self._participant

    @property
    def key(self) -> SigningKey:
        return self.participant().keyring.active

    @property
    def kid(self) -> str:
        return self.participant().kid

    def did_document(self) -> dict[str, Any]:
        from connector.dsp.extensions import advertised

        base = self.ctx.settings.public_url
        return self.participant().did_document(
            dsp_endpoint=f"{base}/.well-known/dspace-version", **advertised(self.ctx)
        )


def resolver_for(settings: Settings) -> DidResolver:
    """A DID resolver under the connector's outbound policy (connector.outbound): public https
    hosts only, loopback over plain http in development mode."""
    policy = dataclasses.replace(peer_policy(settings), timeout=5.0, max_bytes=256 * 1024)
    return DidResolver(policy, ttl=300.0)


class DcpTokenIssuer:
    """Caller side: a fresh DCP Self-Issued ID Token per request (so ``jti`` never repeats)."""

    def __init__(self, identity: LocalIdentity, ttl: float = 120.0) -> None:
        self.identity = identity
        self.ttl = ttl

    async def token_for(self, audience_did: str) -> str:
        return create_id_token(self.identity.participant(), audience_did, ttl=self.ttl)


class DcpIdTokenAuthenticator:
    """Callee side: verify the Self-Issued ID Token, then ask for the caller's credentials."""

    def __init__(
        self,
        identity: LocalIdentity,
        resolver: DidResolver,
        fetcher: CredentialFetcher | None = None,
    ) -> None:
        self.identity = identity
        self.resolver = resolver
        self.fetcher: CredentialFetcher = fetcher or NoCredentials()
        self.replay = InMemoryReplayCache()
        self._pinned: str | None = None

    def _pin_self(self) -> None:
        # Our own document never goes to the network (a connector may negotiate with itself).
        if self._pinned != self.identity.did:
            self.resolver.add_static(self.identity.did_document())
            self._pinned = self.identity.did

    async def authenticate(self, request: web.Request) -> Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("send a DCP Self-Issued ID Token as 'Bearer <jwt>'")
        self._pin_self()
        try:
            claims = await verify_id_token(
                token.strip(),
                self.resolver,
                audience=self.identity.did,
                replay_cache=self.replay,
            )
        except IdentityError as exc:
            raise AuthenticationFailed(f"{exc.reason.value}: {exc.detail}") from None
        credentials = await self.fetcher.credentials(claims.did, claims.payload)
        return Caller(claims.did, credentials, dict(claims.payload))

    def own_document(self) -> DidDocument:
        return DidDocument.parse(self.identity.did_document(), self.identity.did)
