"""Group commit for usage counters: concurrent consumes of one counter become one SQL update.

Every permitted request under a ``count`` limit must consume one unit *durably and atomically*
before it is answered. One transaction per request makes the database's commit (an fsync on
SQLite, a WAL flush on PostgreSQL) the ceiling of the data plane's throughput, and on SQLite
the counter's writes queue behind the ledger's for the single write lock. So requests that
arrive while a commit is in flight wait for the next one, which consumes all of them at once
through :meth:`policies.usage.SqlUsageStore.consume` (``used + n <= limit``, atomic).

Exactness is kept: if the batch does not fit in what is left, the units are consumed one by
one, in arrival order, until the store refuses; every unit granted is one the database
accepted, so two replicas sharing PostgreSQL never together exceed the limit. Nothing is ever
granted from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.worker import WorkerThread
from policies.errors import UsageError
from policies.report import CounterSpec
from policies.usage import ConsumeResult, SqlUsageStore, window_key


@dataclass
class _Group:
    agreement_id: str
    spec: CounterSpec
    now: datetime
    waiters: list[tuple[int, asyncio.Future[ConsumeResult]]] = field(default_factory=list)


#: Units consumed ahead for a busy counter, and how far from its limit it must be for that.
RESERVE = 32
RESERVE_FLOOR = 20 * RESERVE


@dataclass
class _Reserve:
    """Units already consumed in the database and not yet handed out (this process only)."""

    units: int
    top: int  # the database's count including them
    now: datetime  # when they were taken (their window)


class BatchingUsageStore:
    """A :class:`policies.usage.UsageStore` that coalesces concurrent consumes.

    Far from its limit (at least ``RESERVE_FLOOR`` units left), a counter that needed a commit
    also consumes ``RESERVE`` units ahead, handed out from memory to the next requests: the
    database's count may then run ahead of the uses served by at most ``RESERVE`` per process
    (given back on a clean stop; a crash forfeits them, which never grants more than the
    limit). Near the limit nothing is taken ahead, so the last units go exactly, in order,
    across replicas.
    """

    def __init__(self, store: SqlUsageStore, reserve: int = RESERVE) -> None:
        self.store = store
        self.reserve = reserve
        self._reserved: dict[tuple[str, str, str], _Reserve] = {}
        self._specs: dict[tuple[str, str, str], tuple[str, CounterSpec]] = {}
        self._pending: dict[tuple[str, str, str], _Group] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # observable: how many SQL consumes ran

    def take_reserved(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult | None:
        """A unit taken ahead, without waiting; None when there is none to hand out."""
        key = (agreement_id, spec.key, window_key(spec.window, now))
        held = self._reserved.get(key)
        if held is None or held.units < amount:
            return None
        held.units -= amount
        return ConsumeResult(True, held.top - held.units, spec.limit, key[2], now)

    async def consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult:
        taken = self.take_reserved(agreement_id, spec, now, amount)
        if taken is not None:
            return taken
        key = (agreement_id, spec.key, window_key(spec.window, now))
        group = self._pending.get(key)
        if group is None:
            group = self._pending[key] = _Group(agreement_id, spec, now)
        elif now > group.now:
            group.now = now
        future: asyncio.Future[ConsumeResult] = asyncio.get_running_loop().create_future()
        group.waiters.append((amount, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="usage-counter-commits")
        self._wake.set()
        return await future

    async def release(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> None:
        await self.store.release(agreement_id, spec, now, amount)

    async def used(
        self, agreement_id: str, spec: CounterSpec, now: datetime
    ) -> tuple[int, datetime | None]:
        return await self.store.used(agreement_id, spec, now)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for key, held in list(self._reserved.items()):
            if held.units > 0:  # give back what was taken ahead and not used
                agreement_id, spec = self._specs[key]
                with contextlib.suppress(Exception):
                    await self.store.release(agreement_id, spec, held.now, held.units)
        self._reserved.clear()
        if isinstance(self.store, OneHopSqliteUsageStore):
            self.store.close()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                groups = list(self._pending.values())
                self._pending.clear()
                for group in groups:
                    try:
                        await self._apply(group)
                    except Exception as exc:  # every waiter learns; the loop keeps serving
                        for _, future in group.waiters:
                            if not future.done():
                                future.set_exception(exc)

    async def _apply(self, group: _Group) -> None:
        total = sum(amount for amount, _ in group.waiters)
        key = (group.agreement_id, group.spec.key, window_key(group.spec.window, group.now))
        held = self._reserved.get(key)
        ahead = 0
        if held is not None and group.spec.limit - held.top >= RESERVE_FLOOR:
            ahead = self.reserve
        result = None
        if ahead:
            self.commits += 1
            result = await self.store.consume(
                group.agreement_id, group.spec, group.now, total + ahead
            )
            if not result.ok:
                result = None
                ahead = 0
        if result is None:
            self.commits += 1
            result = await self.store.consume(group.agreement_id, group.spec, group.now, total)
        if result.ok:
            leftover = held.units if held is not None else 0
            self._reserved[key] = _Reserve(leftover + ahead, result.used, group.now)
            self._specs[key] = (group.agreement_id, group.spec)
            used = result.used - total - ahead - leftover  # served before this batch
            for amount, future in group.waiters:
                used += amount
                if not future.done():
                    future.set_result(
                        ConsumeResult(True, used, result.limit, result.window, result.updated_at)
                    )
            return
        refused: ConsumeResult | None = None
        for amount, future in group.waiters:
            if refused is not None and amount >= 1:
                future.set_result(refused)  # counters only grow within a window
                continue
            self.commits += 1
            one = await self.store.consume(group.agreement_id, group.spec, group.now, amount)
            if not one.ok:
                refused = one
            if not future.done():
                future.set_result(one)


LOCK_WAIT_S = 10.0  # as the connector's busy_timeout


class OneHopSqliteUsageStore(SqlUsageStore):
    """:class:`SqlUsageStore` whose consume runs as one call on a writer thread (SQLite).

    Through aiosqlite every statement of a transaction is a hand-off to the driver's thread and
    back; a consume is four of them, and on a busy machine each costs milliseconds. Here the
    same statements on the same table (``policies.usage.usage_counters``), with the same atomic
    ``used + n <= limit`` condition, run in one ``BEGIN IMMEDIATE`` transaction on a dedicated
    sqlite3 connection: one hand-off per commit. Release and reads keep the library's code.

    The statements go to the driver directly (prepared once, values converted by the column
    types' own SQLAlchemy processors, so rows are stored exactly as the library stores them):
    the write lock is often held by the ledger's commit when a consume starts, and through
    SQLAlchemy each refused attempt to take it cost an exception's round of connection
    handling — the thread's CPU per consume was several times the commit itself.
    """

    def __init__(self, engine: AsyncEngine, *, lock_wait_s: float = LOCK_WAIT_S) -> None:
        super().__init__(engine)
        self.lock_wait_s = lock_wait_s
        database = engine.url.database
        if not database or database == ":memory:":
            raise ValueError("OneHopSqliteUsageStore needs a SQLite database file")
        self._path = database
        self._conn: sqlite3.Connection | None = None  # used only on the writer thread
        dialect = sqlite_dialect.dialect()
        t = self.t
        name = dialect.identifier_preparer.quote(t.name)
        key = "agreement_id = ? AND counter_key = ? AND window_key = ?"
        self._update_sql = (
            f"UPDATE {name} SET used = used + ?, usage_limit = ?, updated_at = ? "
            f"WHERE {key} AND used + ? <= ? RETURNING used"
        )
        self._insert_sql = (
            f"INSERT INTO {name} (agreement_id, counter_key, window_key, used, usage_limit) "
            "VALUES (?, ?, ?, 0, ?) ON CONFLICT DO NOTHING"
        )
        self._select_sql = f"SELECT used, updated_at FROM {name} WHERE {key}"
        at_type = t.c.updated_at.type.dialect_impl(dialect)
        self._at_in = at_type.bind_processor(dialect) or (lambda v: v)
        self._at_out = at_type.result_processor(dialect, None) or (lambda v: v)
        self._thread = WorkerThread("usage-counter-writer")  # see ledger.worker

    async def consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult:
        return await self._thread.run(self._consume, agreement_id, spec, now, amount)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            _writer_pragmas(conn)
            self._conn = conn
        return self._conn

    def _consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int
    ) -> ConsumeResult:
        wkey = window_key(spec.window, now)
        key = (agreement_id, spec.key, wkey)
        update = (amount, spec.limit, self._at_in(now), *key, amount, spec.limit)
        try:
            conn = self._connection()
            _begin_immediate(conn, self.lock_wait_s)
            try:
                row = conn.execute(self._update_sql, update).fetchone()
                if row is None:
                    conn.execute(self._insert_sql, (*key, spec.limit))
                    row = conn.execute(self._update_sql, update).fetchone()
                cur = None if row is not None else conn.execute(self._select_sql, key).fetchone()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise UsageError(f"could not record usage: {exc}") from exc
        if row is not None:
            return ConsumeResult(True, int(row[0]), spec.limit, wkey, now)
        at = self._at_out(cur[1]) if cur else None
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return ConsumeResult(False, int(cur[0]) if cur else 0, spec.limit, wkey, at)

    def close(self) -> None:
        def shut() -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        self._thread.close(last=shut)


def _begin_immediate(conn: sqlite3.Connection, wait_s: float) -> None:
    """Take the write lock, retrying finely while another writer (the ledger's commit) holds
    it: SQLite's own busy handler sleeps in growing steps (up to 100 ms), fine-grained retries
    take the lock as soon as it is free. A refused attempt costs microseconds."""
    deadline = time.monotonic() + wait_s
    pause = 0.0002
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.002)


def _writer_pragmas(conn: sqlite3.Connection) -> None:
    # the connector's settings (connector.storage.engine): WAL, durable commits; lock waits
    # are retried in _begin_immediate, finely
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=0")


def usage_store_for(engine: AsyncEngine) -> SqlUsageStore:
    """One-hop consumes on SQLite; the library's store as is on PostgreSQL (asyncpg)."""
    if engine.dialect.name == "sqlite":
        return OneHopSqliteUsageStore(engine)
    return SqlUsageStore(engine)
