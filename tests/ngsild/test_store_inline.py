"""Which queries the store runs on the event loop, and that they answer as on a reader thread."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import column

from connector.ngsild.query.selectors import AnyOf, Leaf
from connector.ngsild.store import QueryPlan, Store, metadata
from connector.storage.engine import create_engine

T = "https://x.org/Sensor"
OTHER = "https://x.org/Other"


def doc(i: int, kind: str = T) -> dict[str, object]:
    return {
        "id": f"urn:e:{i:04d}",
        "type": [kind],
        "createdAt": "2026-11-21T00:00:00.000Z",
        "modifiedAt": "2026-11-21T00:00:00.000Z",
        "https://x.org/n": [{"type": "Property", "value": i}],
    }


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    store = Store(engine)
    docs = [doc(i) for i in range(150)] + [doc(i, OTHER) for i in range(150, 160)]
    await store.transaction(store.insert, docs)
    yield store
    store.close()
    await engine.dispose()


@pytest.mark.parametrize(
    ("plan", "inline"),
    [
        (QueryPlan(types=Leaf(T)), True),
        (QueryPlan(types=Leaf(T), limit=60, offset=40), True),
        (QueryPlan(ids=["urn:e:0001", "urn:e:0002"]), True),
        (QueryPlan(types=Leaf(T), allowed_types=frozenset({T})), True),
        (QueryPlan(types=Leaf(T), limit=60, offset=41), False),  # more than 100 rows
        (QueryPlan(types=Leaf(T), count=True), False),  # a count walks every match
        (QueryPlan(types=AnyOf((Leaf(T), Leaf(OTHER)))), False),  # no single index order
        (QueryPlan(types=Leaf(T), allowed_types=frozenset({OTHER})), False),
        (QueryPlan(types=Leaf(T), attrs=frozenset({"https://x.org/n"})), False),
        (QueryPlan(types=Leaf(T), id_pattern="urn:e:00.*"), False),
        (QueryPlan(types=Leaf(T), q_sql=column("x") == 1), False),
        (QueryPlan(types=Leaf(T), predicate=lambda d: True), False),
        (QueryPlan(ids=[f"urn:e:{i:04d}" for i in range(101)], limit=100), False),
    ],
)
async def test_only_bounded_index_reads_run_inline(
    store: Store, plan: QueryPlan, inline: bool
) -> None:
    assert store.bounded(plan) is inline


async def test_inline_and_threaded_reads_answer_alike(store: Store) -> None:
    plan = QueryPlan(types=Leaf(T), limit=20, offset=30)
    assert store.bounded(plan)
    inline = await store.query(plan)
    threaded = await store.read(store._query, plan)
    assert inline == threaded
    assert [d["id"] for d in inline[0]] == [f"urn:e:{i:04d}" for i in range(30, 50)]
    assert json.dumps(inline[0][0]["type"]) == json.dumps([T])
