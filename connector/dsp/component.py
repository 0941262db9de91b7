"""The DSP component: mounts the Dataspace Protocol 2025-1 endpoints and runs the outbox.

Module map (each module has one job):

* ``validation``  bundled DSP JSON schemas; every message in and out is checked
* ``messages``    builders of the messages we send; ``errors`` the DSP error messages
* ``negotiation_states`` / ``transfer_states``  the two state tables
* ``tables``      SQL tables (migration 0003_dsp); ``outbox`` persisted delivery with leases
* ``auth``        the authentication seam (DCP self-issued ID tokens via ``identity``)
* ``catalog``     DCAT catalog of NGSI-LD datasets and the version endpoint
* ``negotiation`` / ``transfer``  protocol handlers and automatic reactions, both roles
* ``agreements``  agreement building and signing; ``decisions`` the policy check (``policies``)
* ``access_tokens`` PULL tokens and ``verify_access_token`` for the NGSI-LD PEP
* ``push``        the PUSH seam for the subscriptions engine
* ``management`` / ``models`` / ``views``  the /api/v1 routes, their bodies and answers
* ``extensions``  which Agora extensions a peer advertises (signature, receipt exchange)
* ``pending`` / ``decision_queue``  operator decisions: choices, queue, events, timeout
* ``edr``         the consumer's endpoint data references, renewed before expiry
* ``services``    the protocols the runtime types its negotiation/transfer services with
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.dsp import decision_queue, edr
from connector.dsp.access_tokens import AccessDenied, AccessTokens
from connector.dsp.auth import (
    Caller,
    CallerAuthenticator,
    DcpIdTokenAuthenticator,
    DcpTokenIssuer,
    LocalIdentity,
    TokenIssuer,
    resolver_for,
)
from connector.dsp.callbacks import CallbackRefused, check_callback
from connector.dsp.catalog import catalog_request, dataset_request, version_document
from connector.dsp.decisions import PoliciesDecider
from connector.dsp.management import add_routes
from connector.dsp.negotiation import Negotiations
from connector.dsp.outbox import Delivery, OutboxWorker, release_leases
from connector.dsp.pending import DecisionBoard
from connector.dsp.provenance import LedgerRecorder
from connector.dsp.push import RecordOnlyPush
from connector.dsp.retention import prune_forever
from connector.dsp.runtime import BASE_PATH, DSP_KEY, Dsp
from connector.dsp.settings import dsp_settings
from connector.dsp.transfer import Transfers
from connector.http.auth import AUTHENTICATORS, Principal
from connector.http.context import CTX, ConnectorContext
from connector.management.api import MANAGEMENT_APP
from connector.storage.inline import Conn

AGREEMENT_PRINCIPAL = "agreement"
DID_PATH = "/.well-known/did.json"


def dsp_app(dsp: Dsp) -> web.Application:
    """The DSP HTTPS binding under the base path (provider and consumer callback paths)."""
    n, t = dsp.negotiations, dsp.transfers
    app = web.Application()
    app[CTX] = dsp.ctx
    app[DSP_KEY] = dsp
    r = app.router

    def on_n(message_type: str, path_kind: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return await n.on_process_message(request, message_type, path_kind)

        return handler

    def on_t(message_type: str, path_kind: str) -> Any:
        async def handler(request: web.Request) -> web.Response:
            return await t.on_process_message(request, message_type, path_kind)

        return handler

    r.add_post("/catalog/request", catalog_request)
    r.add_get("/catalog/datasets/{id}", dataset_request)
    # negotiations: provider paths
    r.add_post("/negotiations/request", n.initial_request)
    r.add_post("/negotiations/{pid}/request", on_n("ContractRequestMessage", "request"))
    r.add_post(
        "/negotiations/{pid}/agreement/verification",
        on_n("ContractAgreementVerificationMessage", "verification"),
    )
    # negotiations: consumer callback paths (the callbackAddress we send is our base)
    r.add_post("/negotiations/offers", n.initial_offer)
    r.add_post("/negotiations/{pid}/offers", on_n("ContractOfferMessage", "offers"))
    r.add_post("/negotiations/{pid}/agreement", on_n("ContractAgreementMessage", "agreement"))
    # negotiations: both roles (the pid says which side we are)
    r.add_post("/negotiations/{pid}/events", on_n("ContractNegotiationEventMessage", "events"))
    r.add_post(
        "/negotiations/{pid}/termination",
        on_n("ContractNegotiationTerminationMessage", "termination"),
    )
    r.add_get("/negotiations/{pid}", n.get)
    # transfers: provider paths, consumer callback paths (same shapes), both roles by pid
    r.add_post("/transfers/request", t.request)
    r.add_post("/transfers/{pid}/start", on_t("TransferStartMessage", "start"))
    r.add_post("/transfers/{pid}/suspension", on_t("TransferSuspensionMessage", "suspension"))
    r.add_post("/transfers/{pid}/completion", on_t("TransferCompletionMessage", "completion"))
    r.add_post("/transfers/{pid}/termination", on_t("TransferTerminationMessage", "termination"))
    r.add_get("/transfers/{pid}", t.get)
    r.add_post("/transfers/{pid}/token", t.refresh_token)
    return app


class _TrustOrSelfIssued:
    """The trust component's full DCP check when it runs in this connector; otherwise the
    self-issued ID-token check, with a warning, so a connector without the trust component
    still speaks DSP (``[dsp] authentication = "self-issued"`` makes that choice explicit)."""

    def __init__(
        self, ctx: ConnectorContext, fallback: DcpIdTokenAuthenticator, issuer: DcpTokenIssuer
    ) -> None:
        self.ctx = ctx
        self.fallback = fallback
        self.fallback_issuer = issuer
        self._trust: tuple[CallerAuthenticator, TokenIssuer] | None = None
        self._warned = False

    def _full(self) -> tuple[CallerAuthenticator, TokenIssuer] | None:
        if "trust" not in self.ctx.components:
            if not self._warned:
                self.ctx.log.warning("dsp: no trust component; using self-issued ID tokens only")
                self._warned = True
            return None
        if self._trust is None:
            from connector.trust.dsp_seam import TrustCallerAuthenticator, TrustTokenIssuer

            self._trust = (TrustCallerAuthenticator(self.ctx), TrustTokenIssuer(self.ctx))
        return self._trust

    async def authenticate(self, request: web.Request) -> Caller:
        full = self._full()
        return await (full[0] if full else self.fallback).authenticate(request)

    async def token_for(self, audience_did: str) -> str:
        full = self._full()
        return await (full[1] if full else self.fallback_issuer).token_for(audience_did)


class DspComponent:
    name = "dsp"

    def __init__(self) -> None:
        self.dsp: Dsp | None = None
        self._root: web.Application | None = None
        self._self_issued: DcpIdTokenAuthenticator | None = None

    def _build(self, ctx: ConnectorContext) -> Dsp:
        identity = LocalIdentity(ctx)
        cfg = dsp_settings(ctx.settings)
        self_issued = DcpIdTokenAuthenticator(identity, resolver_for(ctx.settings))
        self._self_issued = self_issued
        authenticator: CallerAuthenticator = self_issued
        issuer: TokenIssuer = DcpTokenIssuer(identity)
        if cfg.authentication == "dcp":
            either = _TrustOrSelfIssued(ctx, self_issued, DcpTokenIssuer(identity))
            authenticator, issuer = either, either
        dsp = Dsp(
            ctx=ctx,
            identity=identity,
            authenticator=authenticator,
            issuer=issuer,
            decider=PoliciesDecider(),
            push=RecordOnlyPush(),
            resolver=self_issued.resolver,
        )
        dsp.decision_defaults = cfg.decisions
        dsp.board = DecisionBoard(self._webhook_post(ctx), cfg.decisions.webhook, ctx.log)
        dsp.negotiations = Negotiations(dsp)
        dsp.transfers = Transfers(dsp)
        dsp.edrs = edr.EdrCache(dsp)
        dsp.tokens = AccessTokens(identity, ctx.engine, ttl=cfg.access_token_ttl_s)
        dsp.listeners.append(LedgerRecorder(dsp))
        return dsp

    @staticmethod
    def _webhook_post(ctx: ConnectorContext) -> Any:
        """POST a decision notification to the operator's webhook (``[dsp.decisions] webhook``:
        the operator's own address, so the operator-upstream client, never a redirect)."""

        async def post(url: str, view: dict[str, Any]) -> None:
            async with ctx.http().post(url, json=view, allow_redirects=False) as resp:
                await resp.read()

        return post

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        dsp = self.dsp = self._build(ctx)
        ctx.components["dsp"] = dsp
        self._root = root

        async def version(request: web.Request) -> web.Response:
            return web.json_response(version_document(dsp))

        root.router.add_get("/.well-known/dspace-version", version)
        root.add_subapp(BASE_PATH, dsp_app(dsp))
        management = root[MANAGEMENT_APP]
        management[DSP_KEY] = dsp
        add_routes(management)
        decision_queue.add_routes(management)
        edr.add_routes(management)

        async def agreement_principal(request: web.Request, token: str) -> Principal | None:
            try:
                grant = await dsp.tokens.verify_access_token(token)
            except AccessDenied:
                return None
            return Principal(AGREEMENT_PRINCIPAL, grant.consumer_did, {"grant": grant})

        root[AUTHENTICATORS].append(agreement_principal)

    def _serve_did_document(self, dsp: Dsp) -> None:
        """Serve our DID document unless another component already does (identity owns it)."""
        root = self._root
        if root is None or root.frozen:
            return
        for resource in root.router.resources():
            if resource.canonical == DID_PATH:
                return

        async def did_document(request: web.Request) -> web.Response:
            return web.json_response(dsp.identity.did_document())

        root.router.add_get(DID_PATH, did_document)

    async def start(self, ctx: ConnectorContext) -> None:
        dsp = self.dsp
        assert dsp is not None, "mount() runs before start()"
        self._serve_did_document(dsp)

        async def on_outcome(conn: Conn, d: Delivery, ok: bool) -> None:
            service: Any = dsp.negotiations if d.kind == "negotiation" else dsp.transfers
            await service.on_outcome(conn, d.message, d.process_pid, ok, d.answer, d.status)

        if ctx.engine.dialect.name == "sqlite":
            await release_leases(ctx.engine)  # one process per SQLite file: leases are ours

        def url_allowed(url: str) -> bool:
            try:
                check_callback(url, dsp.policy)
            except CallbackRefused:
                return False
            return True

        dsp.worker = OutboxWorker(
            ctx.engine,
            dsp.issuer,
            ctx.peers,
            on_outcome,
            ctx.log,
            transaction=dsp.transaction,
            connect=ctx.db.connect,
            url_allowed=url_allowed,
        )
        ctx.tasks.spawn(dsp.worker.run(), name="dsp-outbox")
        retention_s = dsp_settings(ctx.settings).retention_days * 86_400
        ctx.tasks.spawn(prune_forever(ctx.engine, retention_s, ctx.log), name="dsp-retention")
        ctx.tasks.spawn(decision_queue.expire_forever(dsp), name="dsp-decision-timeout")
        assert isinstance(dsp.edrs, edr.EdrCache)
        interval = dsp_settings(ctx.settings).edr_refresh_interval_s
        ctx.tasks.spawn(dsp.edrs.refresh_forever(interval), name="dsp-edr-refresh")

    async def stop(self) -> None:
        if self.dsp is not None:
            await self.dsp.board.close()
        if self._self_issued is not None:
            await self._self_issued.resolver.close()
