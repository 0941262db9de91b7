"""`agora audit` on honest logs exits 0; every kind of lie is named and exits 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ledger.treehead import sign_tree_head
from tests.audit.conftest import agora
from tests.provenance.trade import Trade, agreement_entries, provenance

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _engine(node: Any) -> Any:
    return node.connector.ctx.engine


async def _sql(node: Any, sql: str, **params: Any) -> list[Any]:
    async with _engine(node).begin() as conn:
        result = await conn.execute(text(sql), params)
        return list(result.fetchall()) if result.returns_rows else []


async def test_honest_logs_pass_every_command(trade: Trade, tmp_path: Path) -> None:
    city, company = trade.city, trade.company
    saved, page = tmp_path / "head.json", tmp_path / "report.html"
    ran = await agora(
        "verify", city.url, "--admin-key", city.admin_key, "--save-head", str(saved),
        "--html", str(page),
    )  # fmt: skip
    assert ran.code == 0, ran.output
    assert "no discrepancy" in ran.output
    assert "embedded chain" in ran.output  # anchors cannot be checked from outside
    assert json.loads(saved.read_text())["size"] >= 1
    assert "<svg" in page.read_text()

    # the log grows; the saved head must still be a prefix of it
    assert await trade.pull() == 200
    await trade.settle()
    ran = await agora(
        "verify", city.url, "--admin-key", city.admin_key, "--previous", str(saved), "--json"
    )
    assert ran.code == 0, ran.output
    assert "consistency" in ran.report["checks"]
    ran = await agora("consistency", city.url, "--admin-key", city.admin_key, "--first", str(saved))
    assert ran.code == 0, ran.output

    ran = await agora(
        "agreement", city.url, company.url, trade.agreement_id, "--admin-key", city.admin_key,
        "--json",
    )  # fmt: skip
    # one admin key cannot open both connectors: the consumer's API refuses it
    assert ran.code == 2, ran.output
    assert "401" in ran.output


async def test_agreement_records_match_across_parties(trade: Trade) -> None:
    """With each party's own admin key (the operator of both, as in a test bed)."""
    ran = await _agreement(trade)
    assert ran.code == 0, ran.output
    assert ran.report["ok"] is True
    assert ran.report["records_checked"] >= 8


async def _agreement(trade: Trade) -> Any:
    return await agora(
        "agreement", trade.city.url, trade.company.url, trade.agreement_id,
        "--admin-key", trade.city.admin_key, "--consumer-admin-key", trade.company.admin_key,
        "--json",
    )  # fmt: skip


async def _verify(trade: Trade, *extra: str) -> Any:
    return await agora(
        "verify", trade.city.url, "--admin-key", trade.city.admin_key, "--json", *extra
    )


async def test_a_tampered_byte_is_caught_by_the_log_and_by_the_other_party(trade: Trade) -> None:
    entry = (await agreement_entries(trade.city, trade.agreement_id))[1]
    forged = entry.data.replace(b'"decision":"', b'"decision":"X', 1)
    await _sql(
        trade.city, "UPDATE ledger_records SET data = :d WHERE idx = :i", d=forged, i=entry.index
    )
    try:
        ran = await _verify(trade)
        assert ran.code == 1
        assert "tampered-record" in ran.kinds()
        assert any(d["index"] == entry.index for d in ran.report["discrepancies"])
        ran = await _agreement(trade)
        assert ran.code == 1
        assert {"tampered-record", "record-mismatch"} <= ran.kinds()
        human = await agora("verify", trade.city.url, "--admin-key", trade.city.admin_key)
        assert human.code == 1 and "tampered-record" in human.output
    finally:
        await _sql(
            trade.city,
            "UPDATE ledger_records SET data = :d WHERE idx = :i",
            d=entry.data,
            i=entry.index,
        )
    assert (await _verify(trade)).code == 0


async def test_reordered_records_are_named(trade: Trade) -> None:
    rows = await _sql(
        trade.city, "SELECT idx, data FROM ledger_records WHERE idx IN (0, 1) ORDER BY idx"
    )
    (i, a), (j, b) = rows
    await _sql(trade.city, "UPDATE ledger_records SET data = :d WHERE idx = :i", d=b, i=i)
    await _sql(trade.city, "UPDATE ledger_records SET data = :d WHERE idx = :i", d=a, i=j)
    try:
        ran = await _verify(trade)
        assert ran.code == 1
        assert "reordered" in ran.kinds()
    finally:
        await _sql(trade.city, "UPDATE ledger_records SET data = :d WHERE idx = :i", d=a, i=i)
        await _sql(trade.city, "UPDATE ledger_records SET data = :d WHERE idx = :i", d=b, i=j)


async def test_a_truncated_log_is_caught(trade: Trade, tmp_path: Path) -> None:
    ledger = provenance(trade.city).ledger
    size = await ledger.sync()
    last = await _sql(
        trade.city,
        "SELECT idx, leaf_hash, data, agreement_id FROM ledger_records WHERE idx = :i",
        i=size - 1,
    )
    await _sql(trade.city, "DELETE FROM ledger_records WHERE idx = :i", i=size - 1)
    try:
        ran = await _verify(trade)
        assert ran.code == 1
        assert "truncated" in ran.kinds()
    finally:
        idx, leaf, data, agreement = last[0]
        await _sql(
            trade.city,
            "INSERT INTO ledger_records (idx, leaf_hash, data, agreement_id) "
            "VALUES (:i, :l, :d, :a)",
            i=idx, l=leaf, d=data, a=agreement,
        )  # fmt: skip
    # a head signed earlier that is larger than the one shown now: the log shrank
    later, earlier = tmp_path / "later.json", tmp_path / "earlier.json"
    head = await ledger.tree_head()
    older = [h for h in await ledger.store.tree_heads() if h.size < head.size][-1]
    later.write_text(json.dumps(head.to_json()))
    earlier.write_text(json.dumps(older.to_json()))
    ran = await agora(
        "consistency", trade.city.url, "--admin-key", trade.city.admin_key,
        "--first", str(later), "--second", str(earlier), "--json",
    )  # fmt: skip
    assert ran.code == 1
    assert "truncated" in ran.kinds()


async def test_a_forked_log_is_caught(trade: Trade, tmp_path: Path) -> None:
    """The city signs a second, different head for a size it already signed."""
    ledger = provenance(trade.city).ledger
    head = await ledger.tree_head()
    fork = sign_tree_head(ledger.signer, head.size, bytes(32), head.timestamp + 1)
    path = tmp_path / "fork.json"
    path.write_text(json.dumps(fork.to_json()))
    ran = await agora(
        "consistency", trade.city.url, "--admin-key", trade.city.admin_key,
        "--first", str(path), "--json",
    )  # fmt: skip
    assert ran.code == 1
    assert "forked" in ran.kinds()
    ran = await _verify(trade, "--previous", str(path))
    assert ran.code == 1
    assert "forked" in ran.kinds()


async def test_a_missing_countersignature_is_caught(trade: Trade) -> None:
    rows = await _sql(
        trade.company,
        "SELECT id, document FROM ledger_receipts WHERE agreement_id = :a ORDER BY id",
        a=trade.agreement_id,
    )
    rid, document = rows[0]
    stripped = {**json.loads(document), "countersignature": None, "countersigner_kid": None}
    await _sql(
        trade.company,
        "UPDATE ledger_receipts SET document = :d WHERE id = :i",
        d=json.dumps(stripped),
        i=rid,
    )
    try:
        ran = await _agreement(trade)
        assert ran.code == 1
        assert "missing-countersignature" in ran.kinds()
    finally:
        await _sql(
            trade.company,
            "UPDATE ledger_receipts SET document = :d WHERE id = :i",
            d=document,
            i=rid,
        )
    assert (await _agreement(trade)).code == 0


async def test_usage_and_connection_errors_exit_2_without_a_traceback(
    trade: Trade, tmp_path: Path
) -> None:
    ran = await agora("verify", trade.city.url)
    assert ran.code == 2 and "--admin-key" in ran.output
    ran = await agora("verify", "http://127.0.0.1:9", "--admin-key", "x")
    assert ran.code == 2 and "Traceback" not in ran.output
    ran = await agora("verify", trade.city.url, "--admin-key", "wrong")
    assert ran.code == 2 and "401" in ran.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    ran = await agora(
        "consistency", trade.city.url, "--admin-key", trade.city.admin_key, "--first", str(bad)
    )
    assert ran.code == 2 and "not a signed tree head" in ran.output


async def test_a_mistyped_agreement_id_is_a_usage_error_not_a_discrepancy(trade: Trade) -> None:
    ran = await agora(
        "agreement", trade.city.url, trade.company.url, trade.agreement_id + "-typo",
        "--admin-key", trade.city.admin_key, "--consumer-admin-key", trade.company.admin_key,
    )  # fmt: skip
    assert ran.code == 2, ran.output
    assert "check the id" in ran.output and "missing-record" not in ran.output


async def test_an_unanchored_log_says_why(trade: Trade) -> None:
    ran = await agora("verify", trade.city.url, "--admin-key", trade.city.admin_key)
    assert ran.code == 0, ran.output
    assert "nothing has been anchored yet" in ran.output
    assert "anchor_every_seconds" in ran.output
    # a long line (the signed head's root hash and key) is not broken when not on a terminal
    head = next(line for line in ran.output.splitlines() if "signed tree head" in line)
    assert "key did:web:" in head and len(head.split("root ")[1].split(",")[0]) == 64
