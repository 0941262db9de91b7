"""The SQLite write gate: writers of one engine queue in asyncio and never meet SQLite's lock.

The engine's connections get ``busy_timeout=0`` here, so any writer that reached SQLite while
another connection held the write lock would fail at once with "database is locked" instead of
sleeping; with the gate every transaction commits.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.storage import create_engine


def _no_busy_wait(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def engine_without_busy_wait(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    event.listen(engine.sync_engine, "connect", _no_busy_wait)
    return engine


async def test_concurrent_writers_all_commit(tmp_path: Path) -> None:
    engine = engine_without_busy_wait(tmp_path / "gate.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO t (k, n) VALUES (1, 0)"))

    async def writer(i: int) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (k, n) VALUES (:k, 0)"), {"k": 100 + i})
            await asyncio.sleep(0)  # let the other writers run while we hold the lock
            await conn.execute(text("UPDATE t SET n = n + 1 WHERE k = 1"))

    try:
        await asyncio.gather(*(writer(i) for i in range(20)))
        async with engine.connect() as conn:
            count = (await conn.execute(text("SELECT n FROM t WHERE k = 1"))).scalar_one()
            rows = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
    finally:
        await engine.dispose()
    assert count == 20
    assert rows == 21


async def test_rolled_back_writer_lets_the_next_one_in(tmp_path: Path) -> None:
    engine = engine_without_busy_wait(tmp_path / "gate.db")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY)"))

    async def failing() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (k) VALUES (1)"))
            await asyncio.sleep(0)
            raise RuntimeError("give up")

    async def writer() -> None:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (k) VALUES (2)"))

    try:
        results = await asyncio.gather(failing(), writer(), writer(), return_exceptions=True)
        async with engine.connect() as conn:
            keys = (await conn.execute(text("SELECT k FROM t ORDER BY k"))).scalars().all()
    finally:
        await engine.dispose()
    assert isinstance(results[0], RuntimeError)
    first, second = sorted(results[1:], key=lambda r: r is not None)
    assert first is None  # one writer got in after the rollback
    assert "UNIQUE" in str(second)  # the other one reached SQLite too: a duplicate, not "locked"
    assert keys == [2]
