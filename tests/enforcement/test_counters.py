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
