"""Both parties' ledgers hold the same records of an agreement, with countersigned receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from connector.provenance.exchange import WATERMARK_KEY, ReceiptExchange
from connector.provenance.kv import kv_get
from ledger.audit import compare_parties
from ledger.receipts import receipt_problems
from ledger.records import Record
from tests.provenance.trade import (
    Trade,
    agreement_entries,
    provenance,
    public_key,
    start_trade,
)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trade(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Trade]:
    async with aiohttp.ClientSession() as http:
        t = await start_trade(tmp_path_factory.mktemp("exchange"), http)
        try:
            yield t
        finally:
            await t.stop()


pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_both_logs_hold_the_same_agreement_records(trade: Trade) -> None:
    mine = await agreement_entries(trade.city, trade.agreement_id)
    theirs = await agreement_entries(trade.company, trade.agreement_id)
    assert {e.data for e in mine} == {e.data for e in theirs}
    text = b"".join(e.data for e in mine)
    for expected in (
        b'"kind":"agreement"',
        b'"kind":"access"',
        b'"transfer:STARTED"',
        b'"negotiation:FINALIZED"',
        b'"negotiation:AGREED"',
    ):
        assert expected in text
    city_key, company_key = public_key(trade.city), public_key(trade.company)
    receipts = await provenance(trade.company).ledger.receipts(trade.agreement_id)
    assert len(receipts) == len(mine)
    for receipt in receipts:
        assert receipt_problems(receipt, city_key, company_key) == []
    report = compare_parties(trade.agreement_id, mine, theirs, receipts, city_key, company_key)
    assert report.ok, report.to_json()
    assert len(await provenance(trade.city).ledger.receipts(trade.agreement_id)) == len(mine)


async def test_the_exchange_endpoints_need_the_peers_dcp_token(trade: Trade) -> None:
    for path in ("/ledger/v1/receipts", "/ledger/v1/records"):
        async with trade.company.http.post(trade.company.url + path, json={"items": []}) as resp:
            assert resp.status == 401
            assert resp.content_type == "application/problem+json"
            assert (await resp.json())["status"] == 401


async def test_a_receipt_that_does_not_verify_is_refused_and_nothing_logged(trade: Trade) -> None:
    city, company = trade.city, trade.company
    ledger = provenance(company).ledger
    before = await ledger.sync()
    kept = len(await ledger.receipts(trade.agreement_id))
    entry = (await agreement_entries(city, trade.agreement_id))[0]
    issued = (await provenance(city).ledger.receipt(entry.index, trade.agreement_id)).to_json()
    item = {
        "record": entry.data.decode(),
        "index": issued["index"],
        "inclusion_proof": issued["inclusion_proof"],
    }

    async def post(body: dict[str, Any]) -> list[dict[str, Any]]:
        token = await city.dsp.issuer.token_for(company.did)  # one use each
        async with city.http.post(
            company.url + "/ledger/v1/receipts",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            assert resp.status == 200
            results: list[dict[str, Any]] = (await resp.json())["results"]
            return results

    forged = {**issued["tree_head"], "signature": "00" * 64}
    results = await post({"tree_head": forged, "items": [item, item]})
    assert all("not signed by the provider" in r["problem"] for r in results)
    results = await post({"tree_head": {"size": "x"}, "items": [item]})
    assert "the tree head: malformed" in results[0]["problem"]

    stranger = {**item, "record": item["record"].replace(trade.agreement_id, "urn:uuid:unknown")}
    moved = {**item, "index": item["index"] + 1}  # its proof no longer leads to the head
    # the last one is already held: countersigned again, not logged again
    body = {"tree_head": issued["tree_head"], "items": [stranger, "junk", moved, item]}
    results = await post(body)
    assert "no agreement 'urn:uuid:unknown'" in results[0]["problem"]
    assert "problem" in results[1]
    assert "inclusion proof" in results[2]["problem"]
    assert results[3]["countersignature"] and results[3]["batch"]["size"] == 1
    assert await ledger.sync() == before
    # the redelivered record's receipt was held already (the database says so): not kept twice
    assert len(await ledger.receipts(trade.agreement_id)) == kept


async def test_records_from_someone_not_party_to_the_agreement_are_refused(trade: Trade) -> None:
    """The company cannot push a record claiming to be the provider of the city's agreement."""
    city, company = trade.city, trade.company
    entry = (await agreement_entries(city, trade.agreement_id))[0]
    before = await provenance(city).ledger.sync()
    token = await company.dsp.issuer.token_for(city.did)
    swapped = entry.data.decode().replace(city.did, "did:web:elsewhere.example")
    async with company.http.post(
        city.url + "/ledger/v1/records",
        json={"records": [swapped, "{}"]},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 403  # nothing taken: a Problem with each record's refusal
        assert resp.content_type == "application/problem+json"
        results = (await resp.json())["results"]
    assert [r["status"] for r in results] == [403, 400]
    assert await provenance(city).ledger.sync() == before


async def test_what_a_stopped_process_still_owed_is_delivered_at_start(trade: Trade) -> None:
    """A record whose delivery never happened (the process stopped first) is found in the
    database by the next process's exchange and reaches the consumer with its receipt."""
    city = provenance(trade.city)
    assert city.exchange is not None and trade.city.connector.ctx is not None
    late = Record(
        provider=trade.city.did,
        consumer=trade.company.did,
        agreement_id=trade.agreement_id,
        action="read",
        decision="permit",
        author=trade.city.did,
    )
    done = await city.ledger.append(late)  # bypasses Provenance.record: nothing is queued
    restarted = ReceiptExchange(
        trade.city.connector.ctx, city.ledger, city.exchange.peers, trade.city.did
    )
    restarted.start()
    try:
        assert await restarted.settled(20.0)
        await trade.settle()
    finally:
        await restarted.stop()
    receipts = await provenance(trade.company).ledger.receipts(trade.agreement_id)
    assert done.leaf_hash in {r.leaf_hash for r in receipts}
    theirs = await agreement_entries(trade.company, trade.agreement_id)
    assert late.canonical() in {e.data for e in theirs}
    # everything the start-up pass found is acknowledged: the next start begins after it
    mark = await kv_get(trade.city.connector.ctx.engine, WATERMARK_KEY)
    assert mark is not None and int(mark) > done.index


@pytest.mark.asyncio(loop_scope="function")
async def test_the_provider_on_each_engine_ends_with_matching_receipted_logs(
    db_url: str, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        t = await start_trade(tmp_path, http, pulls=1, city_storage=db_url)
        try:
            mine = await agreement_entries(t.city, t.agreement_id)
            theirs = await agreement_entries(t.company, t.agreement_id)
            receipts = await provenance(t.company).ledger.receipts(t.agreement_id)
            keys = public_key(t.city), public_key(t.company)
            report = compare_parties(t.agreement_id, mine, theirs, receipts, *keys)
            assert report.ok, report.to_json()
            assert len(mine) >= 6
        finally:
            await t.stop()
