"""Short transactions on SQLite without a thread hand-off per statement.

The DSP control plane runs a few dozen small statements per message: find the process row,
check the message was not seen, update the state, queue the reply. Through aiosqlite each
statement is several round trips to the driver's thread (cursor, execute, fetch, close) and each
round trip costs the event loop more than the statement itself, which SQLite answers from its
page cache in microseconds. Here a transaction's statements run on the event loop thread through
a plain sqlite3 connection, and only the two steps that can wait go to a thread: taking the write
lock (``BEGIN IMMEDIATE``, which may wait for another connection's commit) and ``COMMIT`` (the
fsync of synchronous=FULL). What is committed, and when the caller learns it is durable, does not
change.

In-process writers still queue in the engine's :mod:`~connector.storage.write_gate`, so the
transaction never waits on the database lock while holding the event loop. PostgreSQL (and a
``:memory:`` SQLite database, which only the async engine's connection can see) use the async
engine unchanged: :class:`Database` gives both the same :class:`Conn` interface.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import CursorResult, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql import Executable

from connector.storage import write_gate
from connector.storage.engine import sqlite_sync_twin
from ledger.worker import WorkerThread

T = TypeVar("T")


class Conn(Protocol):
    """What control-plane code uses of a connection (an ``AsyncConnection`` satisfies it)."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def info(self) -> dict[Any, Any]: ...

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]: ...

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any: ...


class InlineConnection:
    """A sync SQLAlchemy connection behind the async interface: each call runs at once."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @property
    def dialect(self) -> Dialect:
        return self._conn.dialect

    @property
    def info(self) -> dict[Any, Any]:
        return self._conn.info

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        return self._conn.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        return self._conn.scalar(statement, parameters)


class Database:
    """Connections and transactions for code that runs many short statements per request."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sync: Engine | None = None
        self._thread: WorkerThread | None = None
        self._gate = write_gate.gate_of(engine)
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database not in (None, "", ":memory:"):
            # unbounded overflow: a checkout runs on the event loop and must never wait for a
            # connection that another coroutine (which needs the loop to go on) holds;
            # transactions begin when :meth:`begin` says so
            self._sync = sqlite_sync_twin(engine, pool_size=8, max_overflow=-1, caller_begins=True)
            self._thread = WorkerThread("sqlite-commit")  # see ledger.worker

    @property
    def inline(self) -> bool:
        """True when statements run on the event loop (a SQLite file)."""
        return self._sync is not None

    def connect(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        """A connection for reads (each statement sees the latest commit)."""
        if self._sync is None:
            return self.engine.connect()
        return self._inline_connect()

    def begin(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        """A write transaction: committed when the block ends, rolled back if it raises."""
        if self._sync is None:
            return self.engine.begin()
        return self._inline_begin()

    @contextlib.asynccontextmanager
    async def _inline_connect(self) -> AsyncIterator[Conn]:
        assert self._sync is not None
        conn = self._sync.connect()
        try:
            yield InlineConnection(conn)
        finally:
            conn.close()

    @contextlib.asynccontextmanager
    async def _inline_begin(self) -> AsyncIterator[Conn]:
        assert self._sync is not None
        turn = self._gate.turn() if self._gate is not None else contextlib.nullcontext()
        async with turn:
            conn = self._sync.connect()
            try:
                await self._off_loop(conn.exec_driver_sql, "BEGIN IMMEDIATE")
                yield InlineConnection(conn)
                await self._off_loop(conn.commit)
            except BaseException:
                conn.rollback()
                raise
            finally:
                conn.close()

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the commit thread. If the caller is cancelled meanwhile, wait for the
        call to end anyway: the connection must not be used by two threads at once."""
        assert self._thread is not None
        task = asyncio.ensure_future(self._thread.run(fn, *args))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            with contextlib.suppress(BaseException):
                await task
            raise

    def dispose(self) -> None:
        if self._thread is not None:
            self._thread.close()
        if self._sync is not None:
            self._sync.dispose()
