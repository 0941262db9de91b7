"""Mounts the ledger for a running connector: the log, its anchoring, the auditors' API.

Other components record through :class:`Provenance.record`; the ledger library does the rest.
"""

from __future__ import annotations

import os
from dataclasses import replace
from functools import partial

from aiohttp import web

from connector.dsp.auth import resolver_for
from connector.errors import ConfigError
from connector.http.auth import accepts
from connector.http.context import CTX, ConnectorContext
from connector.http.problems import Problem
from connector.http.routes import Route, add_routes
from connector.keys import participant_of
from connector.management.api import MANAGEMENT_APP
from connector.provenance import views as pv
from connector.provenance.dsp_events import NegotiationRecorder
from connector.provenance.exchange import (
    RECEIPTS_PATH,
    RECORDS_PATH,
    ReceiptExchange,
    owed_as_statement,
)
from connector.provenance.kv import kv_get, kv_put
from connector.provenance.peers import Peers
from connector.provenance.settings import LedgerSettings, ledger_settings
from connector.storage.singleton import only_one_replica
from ledger import api as ledger_api
from ledger.anchor import (
    EMBEDDED_ANCHOR_GAS,
    Anchorer,
    AnchorScheduler,
    embedded_web3,
    http_web3,
)
from ledger.errors import AnchorError, ProofError
from ledger.evm import Web3
from ledger.log import Appended, Ledger
from ledger.records import Record
from ledger.signing import KeySigner
from ledger.statements import sign_statement

PROVENANCE: web.AppKey[Provenance] = web.AppKey("agora.provenance")
CONTRACT_KEY = "ledger.contract"


class Provenance:
    """The participant's log of everything it did with other participants."""

    def __init__(
        self,
        ledger: Ledger,
        scheduler: AnchorScheduler | None,
        exchange: ReceiptExchange | None = None,
        *,
        me: str = "",
    ) -> None:
        self.ledger = ledger
        self.scheduler = scheduler
        self.exchange = exchange
        #: this participant's DID: the author of every record it logs itself
        self.me = me or (exchange.me if exchange is not None else "")
        #: "embedded" (in-process eth-tester) or "json-rpc" (a node auditors can reach)
        self.chain = "embedded"

    async def record(self, record: Record) -> Appended:
        """Append a record of ours; returns once it is durable. A record under an agreement is
        then owed to the other party (receipt or copy), delivered in the background.

        The record is ours: it names us as its author (a record naming anyone else is refused:
        only the exchange stores another party's statements, after checking them). One we
        hand to the provider as the consumer is signed, since it will sit in the provider's log
        as our statement."""
        if record.author != self.me:
            if record.author:
                raise ValueError(f"a record by {record.author} is not {self.me}'s to log")
            record = replace(record, author=self.me)
        if owed_as_statement(record, self.me):
            record = sign_statement(record, self.ledger.signer)
        data = record.canonical()
        done = await self.ledger.append_data(data, record.agreement_id)
        if self.exchange is not None:
            self.exchange.logged(record, done.index, data)
        return done


def _int_param(request: web.Request, name: str) -> int:
    raw = request.query.get(name)
    if raw is None:
        raise Problem(400, "Bad Request", detail=f"the query parameter '{name}' is required")
    if not _is_index(raw):
        raise Problem(
            400, "Bad Request", detail=f"'{name}' must be an integer from 0 to {MAX_INDEX}"
        )
    return int(raw)


#: Largest index or size accepted in a request: within the 64-bit integers the stores bind.
MAX_INDEX = 2**53


def _is_index(raw: str) -> bool:
    """ASCII digits (int() also takes signs, spaces, '_' and other scripts' digits) that fit."""
    return raw.isascii() and raw.isdigit() and len(raw) <= 16 and int(raw) <= MAX_INDEX


def _ledger(request: web.Request) -> Ledger:
    provenance: Provenance = request.app[CTX].components["provenance"]
    return provenance.ledger


def _exchange(request: web.Request) -> ReceiptExchange:
    provenance: Provenance | None = request.app[CTX].components.get("provenance")
    if provenance is None or provenance.exchange is None:
        raise Problem(503, "Service Unavailable", detail="the ledger is not running")
    return provenance.exchange


def _proof_problem(exc: ProofError) -> Problem:
    status = 404 if exc.reason.startswith("no record at") else 400
    return Problem(status, "Not Found" if status == 404 else "Bad Request", detail=exc.reason)


@accepts("auditor")
async def tree_head(request: web.Request) -> web.Response:
    return web.json_response(await ledger_api.tree_head_json(_ledger(request)))


@accepts("auditor")
async def record_at(request: web.Request) -> web.Response:
    raw = request.match_info["index"]
    if not _is_index(raw):
        raise Problem(
            400, "Bad Request", detail=f"the record index must be an integer from 0 to {MAX_INDEX}"
        )
    try:
        return web.json_response(await ledger_api.record_json(_ledger(request), int(raw)))
    except ProofError as exc:
        raise _proof_problem(exc) from None


@accepts("auditor")
async def records(request: web.Request) -> web.Response:
    """Records of one agreement (``?agreement=``) or a range (``?start=&end=``, CT get-entries)."""
    ledger = _ledger(request)
    agreement = request.query.get("agreement")
    if agreement:
        return web.json_response(await ledger_api.records_by_agreement_json(ledger, agreement))
    if "start" not in request.query:
        raise Problem(
            400, "Bad Request", detail="give either 'agreement' or 'start' and 'end' parameters"
        )
    start, end = _int_param(request, "start"), _int_param(request, "end")
    try:
        return web.json_response(await ledger_api.records_range_json(ledger, start, end))
    except ProofError as exc:
        raise _proof_problem(exc) from None


@accepts("auditor")
async def receipts(request: web.Request) -> web.Response:
    agreement = request.query.get("agreement")
    if not agreement:
        raise Problem(400, "Bad Request", detail="the query parameter 'agreement' is required")
    return web.json_response(await ledger_api.receipts_json(_ledger(request), agreement))


@accepts("auditor")
async def inclusion(request: web.Request) -> web.Response:
    index, size = _int_param(request, "index"), _int_param(request, "size")
    try:
        body = await ledger_api.inclusion_proof_json(_ledger(request), index, size)
    except ProofError as exc:
        raise _proof_problem(exc) from None
    return web.json_response(body)


@accepts("auditor")
async def consistency(request: web.Request) -> web.Response:
    first, second = _int_param(request, "first"), _int_param(request, "second")
    try:
        body = await ledger_api.consistency_proof_json(_ledger(request), first, second)
    except ProofError as exc:
        raise _proof_problem(exc) from None
    return web.json_response(body)


@accepts("auditor")
async def anchors(request: web.Request) -> web.Response:
    body = await ledger_api.anchors_json(_ledger(request))
    scheduler = request.app[CTX].components["provenance"].scheduler
    if scheduler is not None:
        body["contract"] = scheduler.anchorer.address
        body["chain_id"] = int(scheduler.anchorer.w3.eth.chain_id)
        # when the next anchor is due, so that an audit of an unanchored log can say why
        body["schedule"] = {
            "every_records": scheduler.every_records,
            "every_seconds": scheduler.every_seconds,
            "last_error": str(scheduler.last_error) if scheduler.last_error else None,
        }
    # an auditor cannot reach an in-process chain: say so rather than let it look for one
    body["chain"] = request.app[CTX].components["provenance"].chain
    return web.json_response(body)


ROUTES = [
    Route(
        "GET",
        "/ledger/tree-head",
        tree_head,
        "The log's signed tree head",
        response=pv.TreeHeadView,
        tags=("ledger",),
    ),
    Route(
        "GET",
        "/ledger/records",
        records,
        "Records of one agreement, or a range (at most 1000)",
        query=pv.RecordsQuery,
        response=pv.RecordsView,
        errors=(404,),
    ),
    Route(
        "GET",
        "/ledger/records/{index}",
        record_at,
        "One record and its leaf hash",
        response=pv.EntryView,
    ),
    Route(
        "GET",
        "/ledger/proofs/inclusion",
        inclusion,
        "An inclusion proof (RFC 9162)",
        query=pv.InclusionQuery,
        response=pv.InclusionProofView,
        errors=(404,),
    ),
    Route(
        "GET",
        "/ledger/proofs/consistency",
        consistency,
        "A consistency proof between two tree sizes (RFC 9162)",
        query=pv.ConsistencyQuery,
        response=pv.ConsistencyProofView,
        errors=(404,),
    ),
    Route(
        "GET",
        "/ledger/anchors",
        anchors,
        "The tree heads anchored on chain, and when the next is due",
        response=pv.AnchorsView,
    ),
    Route(
        "GET",
        "/ledger/receipts",
        receipts,
        "The receipts kept for one agreement",
        query=pv.AgreementQuery,
        response=pv.ReceiptsView,
    ),
]


async def _anchorer(ctx: ConnectorContext, cfg: LedgerSettings) -> Anchorer:
    import asyncio

    private_key = os.environ.get(cfg.private_key_env) if cfg.private_key_env else None
    if cfg.private_key_env and not private_key:
        raise ConfigError("environment", cfg.private_key_env, "the hex key for anchor transactions")
    if cfg.chain == "embedded":
        w3 = embedded_web3()
        return await asyncio.to_thread(Anchorer.deploy, w3, gas=EMBEDDED_ANCHOR_GAS)
    w3 = http_web3(cfg.chain)
    address = cfg.contract or await kv_get(ctx.engine, CONTRACT_KEY)
    if address:
        return Anchorer(w3, Web3.to_checksum_address(address), private_key=private_key)
    anchorer = await asyncio.to_thread(Anchorer.deploy, w3, private_key=private_key)
    await kv_put(ctx.engine, CONTRACT_KEY, anchorer.address)
    return anchorer


class ProvenanceComponent:
    name = "provenance"

    def __init__(self) -> None:
        self.provenance: Provenance | None = None

    async def start(self, ctx: ConnectorContext) -> None:
        cfg = ledger_settings(ctx.settings)
        me = participant_of(ctx)  # tree heads name the active key of the DID document
        signer = KeySigner(me.keyring.active.private_key, me.kid)
        ledger = await Ledger.open(ctx.engine, signer, create=False)
        try:
            anchorer = await _anchorer(ctx, cfg)
        except AnchorError as exc:
            await ledger.close()
            raise ConfigError("[ledger]", "chain", f"a reachable chain: {exc.reason}") from None
        scheduler = AnchorScheduler(
            ledger,
            anchorer,
            every_records=cfg.anchor_every_records,
            every_seconds=cfg.anchor_every_seconds,
            # replicas on one database anchor the shared log once, not once each
            exclusive=partial(only_one_replica, ctx.engine, "ledger-anchor"),
        )
        await scheduler.start()
        exchange = ReceiptExchange(
            ctx,
            ledger,
            Peers(ctx.engine, resolver_for(ctx.settings)),
            me.did,
            batch_seconds=cfg.receipts_batch_seconds,
        )
        self.provenance = Provenance(ledger, scheduler, exchange, me=me.did)
        self.provenance.chain = "embedded" if cfg.chain == "embedded" else "json-rpc"
        ctx.components["provenance"] = self.provenance
        dsp = ctx.components.get("dsp")
        if dsp is not None:  # mounted before any component starts
            dsp.listeners.append(NegotiationRecorder(dsp))
        exchange.start()

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        add_routes(root[MANAGEMENT_APP], ROUTES)

        async def receive_receipts(request: web.Request) -> web.StreamResponse:
            return await _exchange(request).receive_receipts(request)

        async def receive_records(request: web.Request) -> web.StreamResponse:
            return await _exchange(request).receive_records(request)

        root.router.add_post(RECEIPTS_PATH, receive_receipts)
        root.router.add_post(RECORDS_PATH, receive_records)

    async def stop(self) -> None:
        if self.provenance is not None:
            if self.provenance.exchange is not None:
                await self.provenance.exchange.stop()
                await self.provenance.exchange.peers.close()
            if self.provenance.scheduler is not None:
                await self.provenance.scheduler.stop()
            await self.provenance.ledger.close()
            self.provenance = None
