"""A small data space on a real loopback aiohttp server, for the identity tests.

The server publishes did:web documents, status list credentials and the caller's Credential
Service; nothing is mocked. Every participant is a did:web on 127.0.0.1:<port>.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from identity import (
    AiohttpCredentialServiceClient,
    DcpVerifier,
    DidResolver,
    FetchPolicy,
    GuardedHttp,
    HttpStatusListFetcher,
    IdentityError,
    InMemoryReplayCache,
    KeyRing,
    MembershipCredential,
    Participant,
    ParticipantCredential,
    PresentationResponder,
    StatusListChecker,
    StatusListIssuer,
    StatusPurpose,
    TrustedIssuersList,
    VerifiedCaller,
    create_id_token,
    issue_access_token,
    issue_credential,
    type_scope,
)

SCOPES = [type_scope("MembershipCredential"), type_scope("ParticipantCredential")]


class World:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.responders: dict[str, PresentationResponder] = {}
        self.status: dict[str, StatusListIssuer] = {}
        self.hits: dict[str, int] = {}
        self.runner: web.AppRunner | None = None
        self.port = 0

    # --- server -------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/slow/did.json", self._slow)
        app.router.add_get("/big/did.json", self._big)
        app.router.add_get("/redirect/did.json", self._redirect)
        app.router.add_get("/{name}/did.json", self._did)
        app.router.add_get("/status/{name}", self._status)
        app.router.add_post("/{name}/cs/presentations/query", self._query)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        await self.resolver.close()
        await self.http.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _did(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        doc = self.docs.get(name)
        if doc is None:
            raise web.HTTPNotFound()
        return web.json_response(doc)

    async def _slow(self, request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response({})

    async def _big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"{" + b" " * (2 * 1024 * 1024) + b"}")

    async def _redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound(self.base + "/authority/did.json")

    async def _status(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits["status:" + name] = self.hits.get("status:" + name, 0) + 1
        issuer = self.status.get(name)
        if issuer is None:
            raise web.HTTPNotFound()
        return web.Response(text=issuer.issue_credential(), content_type="application/vc+jwt")

    async def _query(self, request: web.Request) -> web.Response:
        responder = self.responders.get(request.match_info["name"])
        if responder is None:
            raise web.HTTPNotFound()
        try:
            body = await responder.respond(
                await request.json(), request.headers.get("Authorization")
            )
        except IdentityError as exc:
            return web.json_response({"reason": exc.reason.value, "detail": exc.detail}, status=403)
        return web.json_response(body)

    # --- participants -------------------------------------------------------------------
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def did(self, name: str) -> str:
        return f"did:web:127.0.0.1%3A{self.port}:{name}"

    def participant(self, name: str, *, alg: str = "EdDSA", publish: bool = True) -> Participant:
        p = Participant(self.did(name), KeyRing.generate(alg))
        if publish:
            self.publish(name, p)
        return p

    def publish(self, name: str, p: Participant) -> None:
        self.docs[name] = p.did_document(
            credential_service=f"{self.base}/{name}/cs", dsp_endpoint=f"{self.base}/{name}/dsp"
        )

    async def build(self) -> None:
        await self.start()
        self.policy = FetchPolicy(
            allowed_hosts=frozenset({"127.0.0.1"}),
            allow_loopback=True,
            allow_http=True,
            timeout=1.0,
        )
        self.http = GuardedHttp(self.policy)
        self.resolver = DidResolver(self.policy, http=self.http)
        self.authority = self.participant("authority")
        self.city_registry = self.participant("cityregistry", alg="ES256")
        self.rogue = self.participant("rogue")
        self.company = self.participant("company")
        self.provider = self.participant("provider", alg="ES256")
        self.revocation = StatusListIssuer(
            self.authority, f"{self.base}/status/revocation", StatusPurpose.REVOCATION
        )
        self.suspension = StatusListIssuer(
            self.authority, f"{self.base}/status/suspension", StatusPurpose.SUSPENSION
        )
        self.status = {"revocation": self.revocation, "suspension": self.suspension}
        self.trusted = TrustedIssuersList()
        self.trusted.add(
            self.authority.did,
            ["MembershipCredential", "ParticipantCredential", "ConsentCredential"],
            issuer_type="RootTAO",
        )
        self.trusted.add(
            self.city_registry.did, ["ParticipantCredential"], allowed_claims={"role": ["city"]}
        )
        self.membership_entries = [self.revocation.allocate(), self.suspension.allocate()]
        self.membership = self.issue(
            self.authority,
            MembershipCredential(id=self.company.did, memberOf=self.authority.did),
            status=self.membership_entries,
        )
        self.participant_vc = self.issue(
            self.authority,
            ParticipantCredential(
                id=self.company.did, legalName="Acme Mobility GmbH", role="company", country="DE"
            ),
        )
        self.present([self.membership, self.participant_vc])
        self.replay = InMemoryReplayCache()
        self.status_checker = StatusListChecker(HttpStatusListFetcher(self.http), self.resolver)
        self.verifier = DcpVerifier(
            self.provider,
            self.resolver,
            trusted_issuers=self.trusted,
            status_checker=self.status_checker,
            replay_cache=self.replay,
            credential_service=AiohttpCredentialServiceClient(self.http),
        )

    def issue(
        self,
        issuer: Participant,
        claims: Any,
        *,
        status: list[dict[str, Any]] | None = None,
        valid_from: float | None = None,
        valid_until: float | None = None,
    ) -> str:
        credential = claims.to_credential(
            issuer.did,
            valid_from=valid_from,
            valid_until=time.time() + 86_400 if valid_until is None else valid_until,
            status=status,
        )
        return issue_credential(issuer, credential)

    def present(self, credentials: list[str], holder: Participant | None = None) -> None:
        holder = holder or self.company
        name = holder.did.rsplit(":", 1)[1]
        self.responders[name] = PresentationResponder(holder, credentials, self.resolver)

    def header(
        self,
        scopes: list[str] = SCOPES,
        *,
        caller: Participant | None = None,
        audience: str | None = None,
        now: float | None = None,
    ) -> str:
        caller = caller or self.company
        access = issue_access_token(caller, self.provider.did, scopes)
        token = create_id_token(caller, audience or self.provider.did, token=access, now=now)
        return f"Bearer {token}"

    async def call(self, header: str | None = None, scopes: list[str] = SCOPES) -> VerifiedCaller:
        return await self.verifier.verify_caller(header or self.header(scopes), scopes)
