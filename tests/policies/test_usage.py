"""Usage counters: windows, atomic consumption under concurrency (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from policies import Decision, compile_policy, parse_policy
from policies.report import CounterSpec
from policies.usage import (
    InMemoryUsageStore,
    SqlUsageStore,
    authorize,
    create_schema,
    metadata,
    snapshot,
    usage_counters,
    window_key,
    window_start,
)

from .helpers import AGORA, constraint, doc, perm, request, world

SPEC = CounterSpec(
    "permission[0].constraint[0]", 50, "perMonth", "http://www.w3.org/ns/odrl/2/read"
)
NOW = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)


def test_windows() -> None:
    assert window_key(None, NOW) == "all"
    assert window_key("perHour", NOW) == "2026-11-03T09"
    assert window_key("perDay", NOW) == "2026-11-03"
    assert window_key("perWeek", NOW) == "2026-W45"
    assert window_key("perMonth", NOW) == "2026-11"
    assert window_key("perYear", NOW) == "2026"
    assert window_start("perMonth", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert window_start("perWeek", NOW) == datetime(2026, 11, 2, tzinfo=UTC)
    assert window_start(None, NOW) is None


async def test_in_memory_store_exact_under_concurrency() -> None:
    store = InMemoryUsageStore()
    results = await asyncio.gather(*(store.consume("a", SPEC, NOW) for _ in range(200)))
    assert sum(r.ok for r in results) == 50
    assert await store.used("a", SPEC, NOW) == (50, NOW)
    await store.release("a", SPEC, NOW)
    assert (await store.used("a", SPEC, NOW))[0] == 49
    # A new month starts a new window.
    assert (await store.consume("a", SPEC, datetime(2026, 12, 1, tzinfo=UTC))).ok


@pytest.fixture
async def sql_store(db_url: str) -> AsyncIterator[SqlUsageStore]:
    """A store on its own uniquely named table, dropped afterwards (SQLite and PostgreSQL)."""
    kwargs = {"pool_size": 20, "max_overflow": 0} if db_url.startswith("postgresql") else {}
    engine: AsyncEngine = create_async_engine(db_url, **kwargs)
    md = sa.MetaData()
    table = usage_counters.to_metadata(md, name=f"policy_usage_{uuid.uuid4().hex[:8]}")
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    try:
        yield SqlUsageStore(engine, table)
    finally:
        async with engine.begin() as conn:
            await conn.run_sync(md.drop_all)
        await engine.dispose()


async def test_sql_store_exact_under_concurrency(sql_store: SqlUsageStore) -> None:
    # Two engines on one database stand for two connector replicas.
    url = sql_store.engine.url.render_as_string(hide_password=False)
    replica = SqlUsageStore(create_async_engine(url), sql_store.t)
    try:
        results = await asyncio.gather(
            *((sql_store if i % 2 else replica).consume("agr-1", SPEC, NOW) for i in range(200))
        )
    finally:
        await replica.engine.dispose()
    assert sum(r.ok for r in results) == 50
    assert sorted(r.used for r in results if r.ok) == list(range(1, 51))
    used, at = await sql_store.used("agr-1", SPEC, NOW)
    assert used == 50 and at == NOW
    refused = await sql_store.consume("agr-1", SPEC, NOW)
    assert not refused.ok and refused.used == 50 and refused.updated_at == NOW
    await sql_store.release("agr-1", SPEC, NOW)
    assert (await sql_store.consume("agr-1", SPEC, NOW)).ok
    # Other agreements and other windows are independent.
    assert (await sql_store.consume("agr-2", SPEC, NOW)).used == 1
    assert (await sql_store.consume("agr-1", SPEC, datetime(2026, 12, 1, tzinfo=UTC))).used == 1


async def test_create_schema_on_sqlite(tmp_path: object) -> None:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/u.db")
    await create_schema(engine)
    store = SqlUsageStore(engine)
    assert (await store.consume("a", SPEC, NOW)).ok
    assert "policy_usage_counters" in metadata.tables
    await engine.dispose()


async def test_authorize_consumes_and_explains_exhaustion() -> None:
    body = doc(
        [
            perm(
                constraint("odrl:count", "lteq", 2, **{"odrl:unit": {"@id": AGORA + "perMonth"}}),
                action="odrl:read",
            )
        ]
    )
    compiled = compile_policy(parse_policy(body))
    store = InMemoryUsageStore()
    req = request("read")
    w = world(now=NOW)
    assert (await authorize(compiled, req, w, store)).permitted
    assert (await authorize(compiled, req, w, store)).permitted
    denied = await authorize(compiled, req, w, store)
    assert denied.decision is Decision.DENY
    assert denied.reason == (
        "denied — this agreement allows 2 reads per month and 2 were used by 3 November"
    )
    used, updated = await snapshot(store, compiled.uid, compiled.counters, NOW)
    assert used == {"permission[0].constraint[0]": 2}
    # With the snapshot in the world, the compiled decision itself already denies.
    assert not compiled.decide(req, world(now=NOW, usage=used, usage_updated=updated)).permitted


async def test_authorize_releases_earlier_counters_when_a_later_one_is_exhausted() -> None:
    body = doc([perm(constraint("odrl:count", "lteq", 5), constraint("odrl:count", "lt", 2))])
    compiled = compile_policy(parse_policy(body))
    store = InMemoryUsageStore()
    w = world(now=NOW)
    assert (await authorize(compiled, request(), w, store)).permitted
    assert not (await authorize(compiled, request(), w, store)).permitted
    first = compiled.counters[0]
    assert (await store.used(compiled.uid, first, NOW))[0] == 1
