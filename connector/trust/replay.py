"""identity's ReplayCache Protocol backed by SQL, so replicas sharing a database agree.

Remembering a ``jti`` is one INSERT into a table keyed by it: a second INSERT of the same key
fails on the primary key, on whichever replica it happens, with no read-then-write race.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.trust.tables import replay

PURGE_EVERY_S = 60.0


class SqlReplayCache:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock
        self._next_purge = 0.0

    async def remember(self, jti: str, expires_at: float) -> bool:
        """Record ``jti``; False if it is already recorded and not yet expired."""
        key = hashlib.sha256(jti.encode()).hexdigest()
        now = self._clock()
        async with self._engine.begin() as conn:
            # An expired entry of the same key may be reused (its token can no longer verify).
            await conn.execute(delete(replay).where(replay.c.key == key, replay.c.expires_at < now))
            if now >= self._next_purge:
                self._next_purge = now + PURGE_EVERY_S
                await conn.execute(delete(replay).where(replay.c.expires_at < now))
        try:
            async with self._engine.begin() as conn:
                await conn.execute(insert(replay).values(key=key, expires_at=expires_at))
        except IntegrityError:
            return False
        return True
