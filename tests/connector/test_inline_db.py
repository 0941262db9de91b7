"""connector.storage.inline: SQLite transactions whose statements run on the event loop.

They must commit exactly what the same code commits through the async engine, queue with the
engine's other writers instead of meeting SQLite's lock, and leave nothing behind when the code
inside raises or is cancelled.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from connector.storage import create_engine
from connector.storage.inline import Database


async def _setup(path: Path) -> Database:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO t (k, n) VALUES (1, 0)"))
    return Database(engine)


async def _close(db: Database) -> None:
    db.dispose()
    await db.engine.dispose()


async def test_inline_and_async_writers_queue_and_all_commit(tmp_path: Path) -> None:
    db = await _setup(tmp_path / "inline.db")
    assert db.inline

    async def inline_writer(i: int) -> None:
        async with db.begin() as conn:
            await conn.execute(text("INSERT INTO t (k, n) VALUES (:k, 0)"), {"k": 100 + i})
            await asyncio.sleep(0)  # others run while this one holds the write lock
            await conn.execute(text("UPDATE t SET n = n + 1 WHERE k = 1"))

    async def async_writer(i: int) -> None:
        async with db.engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (k, n) VALUES (:k, 0)"), {"k": 200 + i})
            await asyncio.sleep(0)
            await conn.execute(text("UPDATE t SET n = n + 1 WHERE k = 1"))

    try:
        await asyncio.wait_for(
            asyncio.gather(
                *(inline_writer(i) for i in range(15)), *(async_writer(i) for i in range(15))
            ),
            30,
        )
        async with db.connect() as conn:
            count = (await conn.execute(text("SELECT n FROM t WHERE k = 1"))).scalar_one()
            rows = await conn.scalar(text("SELECT count(*) FROM t"))
    finally:
        await _close(db)
    assert count == 30
    assert rows == 31


async def test_a_raising_block_rolls_back_and_the_next_one_commits(tmp_path: Path) -> None:
    db = await _setup(tmp_path / "inline.db")
    try:
        with pytest.raises(RuntimeError):
            async with db.begin() as conn:
                await conn.execute(text("INSERT INTO t (k, n) VALUES (2, 0)"))
                raise RuntimeError("give up")
        async with db.begin() as conn:
            await conn.execute(text("INSERT INTO t (k, n) VALUES (3, 0)"))
        async with db.engine.connect() as aconn:  # what another connection sees
            keys = (await aconn.execute(text("SELECT k FROM t ORDER BY k"))).scalars().all()
    finally:
        await _close(db)
    assert keys == [1, 3]


async def test_a_cancelled_transaction_leaves_nothing_and_frees_the_gate(tmp_path: Path) -> None:
    db = await _setup(tmp_path / "inline.db")
    inside = asyncio.Event()

    async def stuck() -> None:
        async with db.begin() as conn:
            await conn.execute(text("INSERT INTO t (k, n) VALUES (2, 0)"))
            inside.set()
            await asyncio.sleep(60)

    try:
        task = asyncio.create_task(stuck())
        await asyncio.wait_for(inside.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # an async-engine writer gets the gate and the database lock at once
        async with asyncio.timeout(10), db.engine.begin() as aconn:
            await aconn.execute(text("INSERT INTO t (k, n) VALUES (3, 0)"))
        async with db.connect() as conn:
            keys = (await conn.execute(text("SELECT k FROM t ORDER BY k"))).scalars().all()
    finally:
        await _close(db)
    assert keys == [1, 3]


async def test_reads_see_what_the_async_engine_committed(tmp_path: Path) -> None:
    db = await _setup(tmp_path / "inline.db")
    try:
        async with db.connect() as conn:
            before = await conn.scalar(text("SELECT n FROM t WHERE k = 1"))
            async with db.engine.begin() as aconn:
                await aconn.execute(text("UPDATE t SET n = 7 WHERE k = 1"))
            after = await conn.scalar(text("SELECT n FROM t WHERE k = 1"))
    finally:
        await _close(db)
    assert (before, after) == (0, 7)


async def test_memory_databases_and_postgres_keep_the_async_engine(postgres_url: str) -> None:
    for engine in (
        create_async_engine("sqlite+aiosqlite:///:memory:"),
        create_engine(postgres_url),
    ):
        db = Database(engine)
        try:
            assert not db.inline
            async with db.begin() as conn:
                await conn.execute(text("CREATE TEMPORARY TABLE tmp_inline (k INTEGER)"))
                await conn.execute(text("INSERT INTO tmp_inline (k) VALUES (1)"))
                assert await conn.scalar(text("SELECT count(*) FROM tmp_inline")) == 1
        finally:
            await _close(db)
