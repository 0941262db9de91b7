"""The counter group commit: exact, and fewer commits than requests."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connector.enforcement.counters import (
    BatchingUsageStore,
    OneHopSqliteUsageStore,
    usage_store_for,
)
from connector.storage import create_engine
from policies.errors import UsageError
from policies.report import CounterSpec
from policies.usage import SqlUsageStore, create_schema


async def test_concurrent_consumes_are_exact_and_grouped(db_url: str) -> None:
    engine = create_engine(db_url)
    await create_schema(engine)
    store = BatchingUsageStore(usage_store_for(engine))
    spec = CounterSpec("permission[0].constraint[0]", 50, "perMonth")
    now = datetime.now(UTC)
    try:
        results = await asyncio.gather(*(store.consume("a1", spec, now) for _ in range(200)))
        granted = [r for r in results if r.ok]
        assert len(granted) == 50
        assert sorted(r.used for r in granted) == list(range(1, 51))
        assert all(r.used == 50 for r in results if not r.ok)
        assert store.commits < 200
        assert (await store.used("a1", spec, now))[0] == 50
        # another agreement's counter is its own
        assert (await store.consume("a2", spec, now)).used == 1
    finally:
        await store.close()
        await engine.dispose()


async def test_far_from_the_limit_units_are_taken_ahead_and_given_back(db_url: str) -> None:
    engine = create_engine(db_url)
    await create_schema(engine)
    store = BatchingUsageStore(usage_store_for(engine), reserve=16)
    spec = CounterSpec("permission[0].constraint[0]", 1_000_000)
    now = datetime.now(UTC)
    try:
        served = 0
        for _ in range(10):  # waves of concurrent requests
            results = await asyncio.gather(*(store.consume("a1", spec, now) for _ in range(20)))
            assert all(r.ok for r in results)
            served += len(results)
            used = sorted(r.used for r in results)
            assert used == list(range(served - 19, served + 1))  # counts stay exact per use
        assert store.commits < served / 2
        in_db = (await store.used("a1", spec, now))[0]
        assert served <= in_db <= served + 16
    finally:
        await store.close()
    assert (await store.store.used("a1", spec, now))[0] == served  # reserve given back
    await engine.dispose()


async def test_sqlite_one_hop_consumes_store_what_the_library_stores(tmp_path: Path) -> None:
    path = tmp_path / "agora.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    one_hop, library = OneHopSqliteUsageStore(engine), SqlUsageStore(engine)
    spec = CounterSpec("permission[0].constraint[0]", 2, "perMonth")
    now = datetime(2026, 11, 21, 9, 30, 15, 123456, tzinfo=UTC)
    try:
        assert (await one_hop.consume("a1", spec, now)).used == 1
        assert (await library.consume("a2", spec, now)).used == 1
        assert (await one_hop.consume("a1", spec, now)).used == 2
        refused = await one_hop.consume("a1", spec, now)  # the limit holds
        assert (refused.ok, refused.used, refused.updated_at) == (False, 2, now)
        assert await one_hop.used("a1", spec, now) == (2, now)
        rows = sqlite3.connect(path).execute(
            "SELECT agreement_id, counter_key, window_key, usage_limit, updated_at "
            "FROM policy_usage_counters ORDER BY agreement_id"
        )
        mine, theirs = rows.fetchall()
        assert mine[1:] == theirs[1:]  # same window key, limit and stored time
    finally:
        one_hop.close()
        await engine.dispose()


async def test_sqlite_one_hop_consume_waits_for_the_write_lock(tmp_path: Path) -> None:
    path = tmp_path / "agora.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await create_schema(engine)
    spec = CounterSpec("permission[0].constraint[0]", 10)
    now = datetime.now(UTC)
    other = sqlite3.connect(path, isolation_level=None)
    store = OneHopSqliteUsageStore(engine, lock_wait_s=0.05)
    try:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the lock throughout
        with pytest.raises(UsageError, match="locked"):
            await store.consume("a1", spec, now)
        other.execute("ROLLBACK")
        assert (await store.consume("a1", spec, now)).used == 1  # nothing was counted before
        patient = OneHopSqliteUsageStore(engine)
        try:
            other.execute("BEGIN IMMEDIATE")
            waiting = asyncio.ensure_future(patient.consume("a1", spec, now))
            await asyncio.sleep(0.02)
            other.execute("COMMIT")  # released while the consume retries: it goes through
            assert (await waiting).used == 2
        finally:
            patient.close()
    finally:
        other.close()
        store.close()
        await engine.dispose()
