"""Who we are (DID, keys) and who is calling (DCP): the :class:`Trust` object.

:class:`Trust` (``ctx.components["trust"]``) is the seam for DSP and the data plane:

- ``await trust.authenticate(request, scopes)`` runs the full DCP callee-side check on the
  request's ``Authorization: Bearer <self-issued ID token>`` and returns identity's
  ``VerifiedCaller``, or raises a 401 Problem whose body carries identity's ``reason``;
- ``await trust.token_for(audience_did, scopes)`` mints the self-issued ID token (with an access
  token for our own Credential Service inside) to send as ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from connector.config import did_web_for
from connector.http.context import CTX, ConnectorContext
from connector.http.problems import Problem
from connector.trust.credential_store import CredentialStore
from connector.trust.fetching import fetch_policy
from connector.trust.issuance_requests import IssuanceRequests
from connector.trust.issuers import TrustedIssuersCache
from connector.trust.membership_state import load_membership
from connector.trust.problems import dcp_problem
from connector.trust.registry import Registry
from connector.trust.replay import SqlReplayCache
from connector.trust.settings import IdentitySettings
from connector.trust.status_lists import StatusLists
from identity import (
    AiohttpCredentialServiceClient,
    DcpVerifier,
    DidResolver,
    GuardedHttp,
    HttpStatusListFetcher,
    IdentityError,
    Participant,
    Reason,
    StatusListChecker,
    TrustedIssuersList,
    VerifiedCaller,
    create_id_token,
    issue_access_token,
    type_scope,
)
from identity.http_guard import parse_json

#: What a member presents by default: it belongs to the data space, and who it is.
DEFAULT_SCOPES: tuple[str, ...] = (
    type_scope("MembershipCredential"),
    type_scope("ParticipantCredential"),
)
CREDENTIAL_SERVICE_PATH = "/dcp"
DSP_PATH = "/dsp"


class Trust:
    """This participant's identity and the DCP verifier, wired to settings and storage."""

    def __init__(
        self, ctx: ConnectorContext, participant: Participant, cfg: IdentitySettings
    ) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.participant = participant
        self.is_authority = ctx.settings.participant.role.value == "authority"
        self.http = GuardedHttp(fetch_policy(cfg))
        self.resolver = DidResolver(self.http.policy, ttl=cfg.did_cache_ttl_s, http=self.http)
        self.resolver.add_static(self.did_document())
        self.replay = SqlReplayCache(ctx.engine)
        self.credentials = CredentialStore(ctx.engine)
        self.issuance = IssuanceRequests(ctx.engine)
        self.status_checker = StatusListChecker(
            HttpStatusListFetcher(self.http),
            self.resolver,
            ttl=cfg.status_list_ttl_s,
            max_cache_bytes=cfg.status_list_cache_bytes,
        )
        self.verifier = DcpVerifier(
            participant,
            self.resolver,
            trusted_issuers=TrustedIssuersList(),
            status_checker=self.status_checker,
            replay_cache=self.replay,
            credential_service=AiohttpCredentialServiceClient(self.http),
            leeway=cfg.leeway_s,
            max_token_lifetime=cfg.max_token_lifetime_s,
        )
        self.trusted_issuers = TrustedIssuersCache(
            self._load_trusted_issuers, ttl=cfg.trusted_issuers_ttl_s, log=ctx.log
        )
        self.registry: Registry | None = None
        self.status_lists: StatusLists | None = None
        if self.is_authority:
            self.registry = Registry(ctx.engine, participant.did)
            self.status_lists = StatusLists(ctx.engine, participant, ctx.settings.public_url)

    # --- who we are -----------------------------------------------------------------------
    @property
    def did(self) -> str:
        return self.participant.did

    @property
    def credential_service_url(self) -> str:
        return self.ctx.settings.public_url + CREDENTIAL_SERVICE_PATH

    def did_document(self) -> dict[str, Any]:
        from connector.dsp.extensions import advertised

        return self.participant.did_document(
            credential_service=self.credential_service_url,
            dsp_endpoint=self.ctx.settings.public_url + DSP_PATH,
            **advertised(self.ctx),
        )

    async def authority(self) -> tuple[str, str] | None:
        """(DID, base URL) of our data-space authority: ourselves, the settings, or the one
        we applied to."""
        if self.is_authority:
            return self.did, self.ctx.settings.public_url
        if self.cfg.authority_url:
            return self.cfg.authority_did or did_web_for(self.cfg.authority_url), (
                self.cfg.authority_url
            )
        state = await load_membership(self.ctx.engine)
        if state is None:
            return None
        return str(state["authority_did"]), str(state["authority_url"])

    async def _load_trusted_issuers(self) -> TrustedIssuersList | None:
        if self.registry is not None:
            return await self.registry.trusted_issuers()
        found = await self.authority()
        if found is None:
            return None
        _, url = found
        status, body = await self.http.request_bytes(
            "GET", url + "/registry/trusted-issuers", error_reason=Reason.UNTRUSTED_ISSUER
        )
        if status != 200:
            raise ValueError(f"{url}/registry/trusted-issuers answered HTTP {status}")
        data = parse_json(body, Reason.UNTRUSTED_ISSUER)
        if not isinstance(data, dict):
            raise ValueError("the trusted-issuers list is not an object")
        return TrustedIssuersList.from_json(data)

    # --- who is calling -------------------------------------------------------------------
    async def verify_authorization(
        self, authorization: str | None, scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> VerifiedCaller:
        """The DCP check on an Authorization header value; IdentityError passes through."""
        self.verifier.trusted_issuers = await self.trusted_issuers.current()
        return await self.verifier.verify_caller(authorization, list(scopes))

    async def authenticate(
        self, request: web.Request, scopes: Sequence[str] = DEFAULT_SCOPES
    ) -> VerifiedCaller:
        """The caller of ``request``, verified; else a 401 Problem with the identity reason."""
        try:
            return await self.verify_authorization(request.headers.get("Authorization"), scopes)
        except IdentityError as exc:
            raise dcp_problem(exc) from None

    async def token_for(self, audience_did: str, scopes: Sequence[str] = DEFAULT_SCOPES) -> str:
        """A self-issued ID token for ``audience_did`` granting it ``scopes`` on our
        Credential Service; send it as ``Authorization: Bearer <token>``."""
        ttl = self.cfg.token_ttl_s
        access = issue_access_token(self.participant, audience_did, list(scopes), ttl=ttl)
        return create_id_token(self.participant, audience_did, token=access, ttl=ttl)

    def id_token_for(self, audience_did: str) -> str:
        """A self-issued ID token without access token (to authenticate a plain request)."""
        return create_id_token(self.participant, audience_did, ttl=self.cfg.token_ttl_s)

    async def close(self) -> None:
        await self.resolver.close()


async def did_document(request: web.Request) -> web.Response:
    """GET /.well-known/did.json: the did:web document (public, no authentication)."""
    trust: Trust = request.app[CTX].components["trust"]
    return web.json_response(trust.did_document(), content_type="application/did+json")


def trust_of(request: web.Request) -> Trust:
    found = request.app[CTX].components.get("trust")
    if not isinstance(found, Trust):
        raise Problem(503, "Service Unavailable", detail="the trust layer is not running")
    return found
