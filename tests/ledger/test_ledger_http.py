"""The audit client against a small aiohttp server built from ``ledger.api``'s documents."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from ledger import api
from ledger.anchor import Anchorer, AnchorScheduler, embedded_web3
from ledger.audit import Finding
from ledger.client import LedgerClient, audit_agreement, audit_remote
from ledger.errors import AuditClientError, LedgerError
from ledger.log import Ledger
from ledger.receipts import countersign
from ledger.records import Record
from ledger.report import render_html
from ledger.signing import KeySigner

from .conftest import scratch_engine

Tamper = Callable[[str, dict[str, Any]], dict[str, Any]]


def serve(ledger: Ledger, tamper: Tamper | None = None, ranged: bool = True) -> web.Application:
    """The routes a connector would mount, each answering one ``ledger.api`` document."""

    def respond(name: str, doc: dict[str, Any]) -> web.Response:
        return web.json_response(tamper(name, doc) if tamper else doc)

    async def tree_head(_: web.Request) -> web.Response:
        return respond("tree-head", await api.tree_head_json(ledger))

    async def record(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        return respond("record", await api.record_json(ledger, index))

    async def records(request: web.Request) -> web.Response:
        q = request.query
        if ranged and "start" in q:
            doc = await api.records_range_json(ledger, int(q["start"]), int(q["end"]))
            return respond("records-range", doc)
        return respond(
            "records", await api.records_by_agreement_json(ledger, request.query["agreement"])
        )

    async def inclusion(request: web.Request) -> web.Response:
        q = request.query
        return respond(
            "inclusion", await api.inclusion_proof_json(ledger, int(q["index"]), int(q["size"]))
        )

    async def consistency(request: web.Request) -> web.Response:
        q = request.query
        doc = await api.consistency_proof_json(ledger, int(q["first"]), int(q["second"]))
        return respond("consistency", doc)

    async def receipts(request: web.Request) -> web.Response:
        return respond("receipts", await api.receipts_json(ledger, request.query["agreement"]))

    async def anchors(_: web.Request) -> web.Response:
        return respond("anchors", await api.anchors_json(ledger))

    @web.middleware
    async def problems(request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except LedgerError as exc:
            return web.json_response({"title": "ledger error", "detail": exc.reason}, status=404)

    app = web.Application(middlewares=[problems])
    prefix = "/api/v1/ledger"
    app.router.add_get(f"{prefix}/tree-head", tree_head)
    app.router.add_get(f"{prefix}/records/{{index}}", record)
    app.router.add_get(f"{prefix}/records", records)
    app.router.add_get(f"{prefix}/proofs/inclusion", inclusion)
    app.router.add_get(f"{prefix}/proofs/consistency", consistency)
    app.router.add_get(f"{prefix}/anchors", anchors)
    app.router.add_get(f"{prefix}/receipts", receipts)
    return app


@dataclass
class Site:
    ledger: Ledger
    anchorer: Anchorer
    signer: KeySigner
    start: Callable[..., Any]


@pytest.fixture
async def site(tmp_path: Path, provider_signer: KeySigner) -> AsyncIterator[Site]:
    engine = scratch_engine(tmp_path / "served.db")
    ledger = await Ledger.open(engine, provider_signer)
    anchorer = await asyncio.to_thread(Anchorer.deploy, embedded_web3())
    scheduler = AnchorScheduler(ledger, anchorer)
    for i in range(40):
        agreement = f"urn:uuid:agr-{i % 4}"
        await ledger.append(
            Record(
                "did:web:a",
                "did:web:b",
                agreement,
                "use",
                "permit",
                f"{i:064x}",
                time=f"2026-11-21T09:{i:02d}:00.000Z",
            )
        )
        if i in (19, 39):
            await scheduler.anchor_now()
    runners: list[web.AppRunner] = []

    async def start(tamper: Tamper | None = None, ranged: bool = True) -> str:
        runner = web.AppRunner(serve(ledger, tamper, ranged))
        await runner.setup()
        tcp = web.TCPSite(runner, "127.0.0.1", 0)
        await tcp.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    yield Site(ledger, anchorer, provider_signer, start)
    for runner in runners:
        await runner.cleanup()
    await ledger.close()
    await engine.dispose()


async def test_remote_audit_of_an_honest_log(site: Site) -> None:
    base = await site.start()
    key = site.signer.public_key()
    async with LedgerClient(base) as client:
        first = await client.tree_head()
        assert first.size == 40 and first.verify(key)
        entries = await client.records_for_agreement("urn:uuid:agr-1")
        assert [e.index for e in entries] == list(range(1, 40, 4))
        report = await audit_remote(client, key, anchorer=site.anchorer, samples=40)
        assert report.ok, report.discrepancies
        assert report.records_checked == 40
        await site.ledger.append(Record("did:web:a", "did:web:b", "urn:uuid:agr-9", "use", "deny"))
        report = await audit_remote(client, key, previous=first, anchorer=site.anchorer)
        assert report.ok, report.discrepancies
        assert "consistency" in report.checks
        with pytest.raises(AuditClientError):
            await client.entry(1000)
    html = render_html(report)
    assert "<svg" in html and "anchor size 40" in html


async def test_remote_tampered_record_is_named(site: Site) -> None:
    def alter(name: str, doc: dict[str, Any]) -> dict[str, Any]:
        if name == "record" and doc["index"] == 17:
            doc["record"]["decision"] = "deny"
        for record in doc.get("records", []) if name == "records-range" else []:
            if record["index"] == 23:
                record["record"]["time"] = "2026-11-21T09:23:00.001Z"
        return doc

    # one record at a time (a server without ranges) and by ranges
    async with LedgerClient(await site.start(alter, ranged=False)) as client:
        report = await audit_remote(client, site.signer.public_key())
    assert [(d.kind, d.index) for d in report.discrepancies] == [(Finding.TAMPERED_RECORD, 17)]
    async with LedgerClient(await site.start(alter)) as client:
        report = await audit_remote(client, site.signer.public_key())
    assert [(d.kind, d.index) for d in report.discrepancies] == [(Finding.TAMPERED_RECORD, 23)]


async def test_remote_lies_are_named(site: Site) -> None:
    key = site.signer.public_key()
    async with LedgerClient(await site.start()) as client:
        earlier = await client.tree_head()

    def lie(name: str, doc: dict[str, Any]) -> dict[str, Any]:
        if name == "inclusion":
            doc["hashes"] = list(reversed(doc["hashes"]))
        if name == "consistency":
            doc["hashes"] = doc["hashes"][1:]
        if name == "anchors":
            doc["anchors"].append(dict(doc["anchors"][0], tx_hash="0x" + "cd" * 32))
            doc["log_id"] = "00" * 32  # points auditors at an empty log id
        return doc

    await site.ledger.append(Record("did:web:a", "did:web:b", "urn:uuid:agr-9", "use", "deny"))
    async with LedgerClient(await site.start(lie)) as client:
        report = await audit_remote(
            client, key, previous=earlier, anchorer=site.anchorer, samples=40
        )
    assert {
        Finding.BAD_PROOF,
        Finding.FORKED,
        Finding.ANCHOR_MISSING,
        Finding.ANCHOR_MISMATCH,
    } <= report.kinds()
    assert json.loads(json.dumps(report.to_json()))["ok"] is False


async def test_remote_truncation_is_named(site: Site) -> None:
    async with LedgerClient(await site.start()) as client:
        earlier = await client.tree_head()

    def shrink(name: str, doc: dict[str, Any]) -> dict[str, Any]:
        if name == "tree-head":
            head = earlier.__class__.from_json(doc)
            from ledger.treehead import sign_tree_head

            return sign_tree_head(
                site.signer, 30, site.ledger.tree.root(30), head.timestamp
            ).to_json()
        return doc

    async with LedgerClient(await site.start(shrink)) as client:
        report = await audit_remote(
            client, site.signer.public_key(), previous=earlier, anchorer=site.anchorer
        )
    assert Finding.TRUNCATED in report.kinds()


async def test_two_connectors_agree_on_an_agreement(
    tmp_path: Path, provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    engine = scratch_engine(tmp_path / "two.db")
    provider = await Ledger.open(engine, provider_signer, prefix="prov_")
    consumer = await Ledger.open(engine, consumer_signer, prefix="cons_")
    agreement = "urn:uuid:agr-two"
    for i in range(6):
        record = Record("did:web:a", "did:web:b", agreement, "use", "permit", f"{i:064x}")
        done = await provider.append(record)
        receipt = await provider.receipt(done.index, agreement)
        await consumer.append(record)
        await consumer.keep_receipt(
            countersign(receipt, consumer_signer, provider_signer.public_key())
        )
    await provider.append(Record("did:web:a", "did:web:b", agreement, "use", "permit", "hidden"))
    runners = []
    urls = []
    for ledger in (provider, consumer):
        runner = web.AppRunner(serve(ledger))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        urls.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
    keys = (provider_signer.public_key(), consumer_signer.public_key())
    async with LedgerClient(urls[0]) as p, LedgerClient(urls[1]) as c:
        report = await audit_agreement(p, c, agreement, *keys)
    # the seventh record was never shown to the consumer: no countersignature, absent on its side
    assert report.kinds() == {Finding.MISSING_RECORD, Finding.MISSING_COUNTERSIGNATURE}
    assert {d.index for d in report.discrepancies} == {6}
    for runner in runners:
        await runner.cleanup()
    for ledger in (provider, consumer):
        await ledger.close()
    await engine.dispose()


async def test_damaged_row_is_served_and_named(site: Site) -> None:
    records = site.ledger.store.tables.records
    async with site.ledger.store.engine.begin() as conn:
        await conn.execute(records.update().where(records.c.idx == 5).values(data=b"\xff{not json"))
    async with LedgerClient(await site.start()) as client:
        assert (await client.entry(5)).data == b"\xff{not json"
        report = await audit_remote(client, site.signer.public_key())
    assert [(d.kind, d.index) for d in report.discrepancies] == [(Finding.TAMPERED_RECORD, 5)]
