"""The counter group commit: exact, and fewer commits than requests."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from connector.enforcement.counters import BatchingUsageStore, usage_store_for
from connector.storage import create_engine
from policies.report import CounterSpec
from policies.usage import create_schema


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
