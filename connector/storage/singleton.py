"""Work that one replica at a time should do (a crawl round, an anchoring pass).

Every replica runs the same periodic tasks; on PostgreSQL a round first tries a session
advisory lock named after the task, on a connection it holds for the round, and skips the round
when another replica has it. The lock goes with the connection, so a replica that dies mid-round
frees it. A SQLite file has one process, so there the round always runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

_TRY = text("SELECT pg_try_advisory_lock(:k)")
_WAIT = text("SELECT pg_advisory_lock(:k) IS NOT NULL")
_UNLOCK = text("SELECT pg_advisory_unlock(:k)")


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL's advisory lock space)."""
    return (
        int.from_bytes(hashlib.sha256(b"agora-singleton\0" + name.encode()).digest()[:8], "big")
        >> 1
    )


@asynccontextmanager
async def only_one_replica(
    engine: AsyncEngine, name: str, *, wait: bool = False
) -> AsyncIterator[bool]:
    """Yield True when this replica holds ``name`` for the block, False when another does;
    with ``wait`` (an operator asked for the work now), wait for it instead."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        got = bool(await conn.scalar(_WAIT if wait else _TRY, {"k": key}))
        try:
            yield got
        finally:
            if got:
                await conn.execute(_UNLOCK, {"k": key})
