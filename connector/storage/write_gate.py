"""One writer at a time per SQLite engine, queued in asyncio instead of in SQLite's busy handler.

SQLite lets one connection write at a time. When a second connection of the same process asks
for the write lock while another holds it, SQLite's busy handler puts its thread to sleep in
growing steps (1, 2, 5, 10, 15, 20, 25… ms) and retries; it does not wake when the lock is freed.
With the DSP outbox, the ledger's group commits and receipt exchange all writing to one file,
most write transactions started while another was committing, and a flow of a few milliseconds
of work spent tens of milliseconds asleep.

The gate is an asyncio lock per engine and event loop: a connection takes it just before its
first write statement (the point where the driver opens the write transaction) and gives it back
when that transaction commits, rolls back or the connection closes. Waiters queue in order and
wake the moment the lock is free. Reads never take it (WAL readers do not block the writer).
Nothing changes in what is committed or when: the gate only decides who asks SQLite first.

Someone holding the gate who then waits for another connection's write would wait for ever; that
code already cannot work on SQLite (the database lock is held too), so after ``wait_s`` (SQLite's
own busy timeout) the statement goes ahead without the gate and fails or succeeds as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_

log = logging.getLogger("agora.storage")

#: Statement heads that make the sqlite3 driver open a write transaction.
WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class WriteGate:
    """The queue of one engine's writers (one asyncio lock per running event loop)."""

    def __init__(self, wait_s: float) -> None:
        self.wait_s = wait_s
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        #: DBAPI connections (by id) holding the gate, and the lock each one holds
        self._holders: dict[int, asyncio.Lock] = {}

    def _lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    async def _acquire(self, lock: asyncio.Lock) -> bool:
        try:
            # asyncio.timeout, not wait_for: wait_for of Python 3.11 may swallow a cancellation
            # that arrives as the lock is granted, and a cancelled worker would then run on
            async with asyncio.timeout(self.wait_s):
                await lock.acquire()
        except TimeoutError:
            log.warning("sqlite write gate: no turn after %.0f s; writing without it", self.wait_s)
            return False
        return True

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the gate for a whole transaction (writers outside SQLAlchemy's async engine)."""
        lock = self._lock()
        held = await self._acquire(lock)
        try:
            yield
        finally:
            if held:
                lock.release()

    def enter(self, connection: Any, statement: str) -> None:
        """Before a statement (inside SQLAlchemy's greenlet): queue if it is the first write."""
        key = _key(connection)
        if key in self._holders or not statement.lstrip()[:7].upper().startswith(WRITES):
            return
        lock = self._lock()
        if await_(self._acquire(lock)):
            self._holders[key] = lock

    def leave(self, connection: Any) -> None:
        """After the transaction of ``connection`` ended (commit, rollback, close)."""
        lock = self._holders.pop(_key(connection), None)
        if lock is not None:
            lock.release()


def _key(connection: Any) -> int:
    """The DBAPI connection's identity, whether given bare or as the pool's proxy of it."""
    return id(getattr(connection, "dbapi_connection", None) or connection)


def _after(dialect: Dialect, name: str, gate: WriteGate) -> None:
    """Wrap the dialect's ``name`` (commit, rollback, close, terminate) to leave the gate."""
    original = getattr(dialect, name)

    def wrapped(dbapi_connection: Any) -> None:
        try:
            original(dbapi_connection)
        finally:
            gate.leave(dbapi_connection)

    setattr(dialect, name, wrapped)


_GATES: weakref.WeakKeyDictionary[Any, WriteGate] = weakref.WeakKeyDictionary()


def gate_of(engine: AsyncEngine) -> WriteGate | None:
    """The gate installed on ``engine``, if any."""
    return _GATES.get(engine.sync_engine)


def install(engine: AsyncEngine, wait_s: float = 10.0) -> WriteGate:
    """Put a write gate on a SQLite ``engine`` (its dialect instance is the engine's own)."""
    gate = WriteGate(wait_s)
    _GATES[engine.sync_engine] = gate

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        gate.enter(conn.connection, statement)

    for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
        _after(engine.dialect, name, gate)
    return gate
