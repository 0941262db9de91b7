"""Anchors on a JSON-RPC chain (ganache): checked by `agora audit anchors` and `verify --chain`."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from sqlalchemy import text

from ledger.records import Record
from tests.audit.conftest import agora
from tests.dsp.helpers import start_node
from tests.provenance.trade import provenance


async def test_anchors_match_the_log_until_a_record_is_altered(
    ganache_url: str, tmp_path: Path
) -> None:
    async with aiohttp.ClientSession() as http:
        city = await start_node(
            tmp_path, "city", "city", http=http, extra={"ledger": {"chain": ganache_url}}
        )
        try:
            p = provenance(city)
            for n in range(5):
                await p.record(Record("did:web:a", "did:web:b", "", f"use-{n}", "permit"))
            assert p.scheduler is not None
            assert await p.scheduler.anchor_now() is not None
            await p.record(Record("did:web:a", "did:web:b", "", "use-late", "permit"))

            ran = await agora(
                "anchors", city.url, "--chain", ganache_url, "--admin-key", city.admin_key, "--json"
            )
            assert ran.code == 0, ran.output
            ran = await agora(
                "verify", city.url, "--chain", ganache_url, "--admin-key", city.admin_key, "--json"
            )
            assert ran.code == 0, ran.output
            assert "anchors" in ran.report["checks"]

            assert city.connector.ctx is not None
            async with city.connector.ctx.engine.begin() as conn:
                await conn.execute(
                    text("UPDATE ledger_records SET data = :d WHERE idx = 2"), {"d": b'{"x":1}'}
                )
            ran = await agora(
                "anchors", city.url, "--chain", ganache_url, "--admin-key", city.admin_key, "--json"
            )
            assert ran.code == 1
            assert "anchor-mismatch" in ran.kinds()
            ran = await agora(
                "anchors", city.url, "--chain", "http://127.0.0.1:9", "--admin-key", city.admin_key
            )
            assert ran.code == 2 and "Traceback" not in ran.output
        finally:
            await city.connector.stop()
