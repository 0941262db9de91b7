"""Durable storage of the log on SQLAlchemy 2 Core (async): SQLite (WAL) and PostgreSQL.

Tables live on their own :class:`~sqlalchemy.MetaData` (see :func:`make_tables`), named with a
prefix so that several logs, or several tests, share one database. Index assignment is serialized
by the single ``head`` row: every append transaction starts with
``UPDATE head SET size = size + n RETURNING size``, which takes the row lock on PostgreSQL and the
write lock on SQLite and holds it until commit, so replicas sharing one database never fork the log
and commits land in index order.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import pickle
import signal
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    event,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .bulk import paused_gc
from .errors import StoreError
from .sqlite_writer import HEADER as _HEADER
from .sqlite_writer import durable_pragmas
from .treehead import TreeHead

T = TypeVar("T")

DEFAULT_PREFIX = "ledger_"


@dataclass(frozen=True, slots=True)
class Entry:
    """One stored leaf: its index, its data (canonical record bytes) and its leaf hash."""

    index: int
    data: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class AnchorRow:
    """A tree head this log anchored on chain, and where."""

    size: int
    root: bytes
    timestamp: int
    log_id: bytes
    chain_id: int
    contract: str
    tx_hash: str
    block_number: int

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "timestamp": self.timestamp,
            "log_id": self.log_id.hex(),
            "chain_id": self.chain_id,
            "contract": self.contract,
            "tx_hash": self.tx_hash,
            "block_number": self.block_number,
        }


_TREE_HEAD_COLUMNS = ("size", "root", "timestamp", "signature", "kid")
_RECEIPT_COLUMNS = ("agreement_id", "idx", "document")
_ANCHOR_COLUMNS = (
    "size",
    "root",
    "timestamp",
    "log_id",
    "chain_id",
    "contract",
    "tx_hash",
    "block_number",
)


@dataclass(frozen=True)
class Tables:
    metadata: MetaData
    head: Table
    records: Table
    tree_heads: Table
    anchors: Table
    receipts: Table


def make_tables(prefix: str = DEFAULT_PREFIX, metadata: MetaData | None = None) -> Tables:
    """The ledger's tables, named ``<prefix>head``, ``<prefix>records`` and so on."""
    md = MetaData() if metadata is None else metadata
    head = Table(
        f"{prefix}head",
        md,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("size", BigInteger, nullable=False),
    )
    records = Table(
        f"{prefix}records",
        md,
        Column("idx", BigInteger, primary_key=True, autoincrement=False),
        Column("leaf_hash", LargeBinary(32), nullable=False),
        Column("data", LargeBinary, nullable=False),
        Column("agreement_id", String(512), nullable=False, index=True),
    )
    tree_heads = Table(
        f"{prefix}tree_heads",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("size", BigInteger, nullable=False, index=True),
        Column("root", LargeBinary(32), nullable=False),
        Column("timestamp", BigInteger, nullable=False),
        Column("signature", LargeBinary, nullable=False),
        Column("kid", String(512), nullable=False),
    )
    anchors = Table(
        f"{prefix}anchors",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("size", BigInteger, nullable=False),
        Column("root", LargeBinary(32), nullable=False),
        Column("timestamp", BigInteger, nullable=False),
        Column("log_id", LargeBinary(32), nullable=False),
        Column("chain_id", BigInteger, nullable=False),
        Column("contract", String(64), nullable=False),
        Column("tx_hash", String(80), nullable=False),
        Column("block_number", BigInteger, nullable=False),
    )
    receipts = Table(
        f"{prefix}receipts",
        md,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("agreement_id", String(512), nullable=False, index=True),
        Column("idx", BigInteger, nullable=False),
        Column("document", Text, nullable=False),
    )
    # look-ups by content: "do we hold this record / this receipt already?" (redeliveries)
    Index(f"ix_{prefix}records_agreement_leaf", records.c.agreement_id, records.c.leaf_hash)
    Index(f"ix_{prefix}receipts_agreement_idx", receipts.c.agreement_id, receipts.c.idx)
    return Tables(md, head, records, tree_heads, anchors, receipts)


#: The tables under the default prefix, for the connector's Alembic migrations.
TABLES = make_tables()
metadata = TABLES.metadata


def _param_marks(paramstyle: str, n: int) -> list[str]:
    """Positional placeholders in the driver's own style (qmark for SQLite, $n for asyncpg)."""
    if paramstyle.startswith("numeric"):
        return [f"${i}" if paramstyle == "numeric_dollar" else f":{i}" for i in range(1, n + 1)]
    return ["%s" if paramstyle in ("format", "pyformat") else "?"] * n


def sqlite_engine(path: str, **kwargs: Any) -> AsyncEngine:
    """An aiosqlite engine for a database file with WAL and full synchronous commits."""
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        durable_pragmas(dbapi_connection)

    return engine


async def create_schema(engine: AsyncEngine, prefix: str = DEFAULT_PREFIX) -> Tables:
    """Create the ledger's tables (if missing) and its head row; SQLite files switch to WAL.

    Idempotent, and safe when several replicas start at once or when migrations created the
    tables already (it then only ensures the head row)."""
    tables = make_tables(prefix)
    attempts = 10
    for attempt in range(attempts):
        try:
            async with engine.begin() as conn:
                if engine.dialect.name == "sqlite":
                    await conn.execute(text("PRAGMA journal_mode=WAL"))
                await conn.run_sync(tables.metadata.create_all)
            break
        except DBAPIError:  # a concurrent replica created a table between check and create
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.02 * (attempt + 1))
    await ensure_head_row(engine, tables)
    return tables


async def ensure_head_row(engine: AsyncEngine, tables: Tables) -> None:
    """Insert the head row (size 0) that serializes appends, unless it exists."""
    try:
        async with engine.begin() as conn:
            found = await conn.scalar(select(tables.head.c.size).where(tables.head.c.id == 1))
            if found is None:
                await conn.execute(insert(tables.head).values(id=1, size=0))
    except IntegrityError:  # a concurrent replica inserted it first
        pass


async def drop_schema(engine: AsyncEngine, prefix: str = DEFAULT_PREFIX) -> None:
    """Drop the ledger's tables (tests and tear-down of throw-away logs)."""
    async with engine.begin() as conn:
        await conn.run_sync(make_tables(prefix).metadata.drop_all)


#: values per IN (...) of a look-up query
LOOKUP_CHUNK = 500


def _chunks(values: list[T]) -> list[list[T]]:
    return [values[i : i + LOOKUP_CHUNK] for i in range(0, len(values), LOOKUP_CHUNK)]


def _kill(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the writer without reaping it: ``Process.kill`` polls (waitpid) first, which
    races asyncio's child watcher for the exit status (it then logs "Unknown child process
    pid …, will report returncode 255"). A process that already exited is a zombie until the
    watcher reaps it, so its pid cannot have been reused."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, getattr(signal, "SIGKILL", signal.SIGTERM))


class _Session:
    """One writer process, the calls waiting for its answers, and the task reading them."""

    def __init__(self, proc: asyncio.subprocess.Process, loop: asyncio.AbstractEventLoop) -> None:
        self.proc = proc
        self.loop = loop
        self.waiting: collections.deque[asyncio.Future[tuple[bool, Any]]] = collections.deque()
        self.alive = True
        self.reader = loop.create_task(self._read(), name="ledger-writer-answers")

    def request(self, request: tuple[Any, ...]) -> asyncio.Future[tuple[bool, Any]]:
        """Write ``request``; the future gets its answer (answers come in the order asked)."""
        if not self.alive:
            raise StoreError("the ledger's writer process exited")
        body = pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
        future: asyncio.Future[tuple[bool, Any]] = self.loop.create_future()
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(_HEADER.pack(len(body)) + body)
        except (ConnectionError, RuntimeError) as exc:
            raise StoreError(f"the ledger's writer process is gone: {exc}") from exc
        self.waiting.append(future)
        return future

    async def _read(self) -> None:
        """Hand each answer to the oldest waiting call; fail them all if the process ends."""
        stdout = self.proc.stdout
        assert stdout is not None
        try:
            while True:
                (n,) = _HEADER.unpack(await stdout.readexactly(_HEADER.size))
                answer = pickle.loads(await stdout.readexactly(n))
                future = self.waiting.popleft()
                if not future.done():
                    future.set_result(answer)
        except (asyncio.IncompleteReadError, ConnectionError, IndexError):
            pass
        finally:
            self.alive = False
            error = StoreError("the ledger's writer process exited")
            while self.waiting:
                future = self.waiting.popleft()
                if not future.done():
                    future.set_exception(error)
            if self.proc.returncode is None:
                _kill(self.proc)


class SqliteWriter:
    """The writes of a log on a SQLite file, done by a process of its own
    (:mod:`ledger.sqlite_writer`): appends, tree heads, receipts, anchors, and the look-ups
    the receipt exchange makes on the writer's connection.

    A writer thread shared the GIL with the event loop and spent most of its time waiting to
    take it back after each SQLite step (see the child's module). Requests go down a pipe and
    answers come back in order, read on the event loop (no thread). The appends made in one
    turn of the loop go as one request, and requests that reach the process while it commits
    go into its next transaction (group commit). Every commit is durable (WAL,
    synchronous=FULL) before it is answered.

    The process starts on first use (or :meth:`start`) on the running event loop. If it dies,
    the calls waiting for it fail with :class:`StoreError` and the next call starts a new one.
    The process ends by itself when its input closes, so it never outlives the connector.
    """

    def __init__(self, path: str, head_table: str, records_table: str) -> None:
        self._args = (path, head_table, records_table)
        self._size_sql = f"SELECT size FROM {head_table} WHERE id = 1"
        self._session: _Session | None = None
        self._starting: asyncio.Lock | None = None
        self._starting_loop: asyncio.AbstractEventLoop | None = None
        self._appends: list[tuple[list[tuple[bytes, bytes, str]], asyncio.Future[int]]] = []

    @property
    def pid(self) -> int | None:
        """The writer process's id while it runs."""
        session = self._session
        return session.proc.pid if session is not None and session.alive else None

    async def start(self) -> None:
        await self._running()

    async def append(self, rows: Sequence[tuple[bytes, bytes, str]]) -> int:
        """Commit ``rows``; returns the first index."""
        session = await self._running()
        future: asyncio.Future[int] = session.loop.create_future()
        if not self._appends:
            session.loop.call_soon(self._flush, session)
        self._appends.append((list(rows), future))
        return await future

    def _flush(self, session: _Session) -> None:
        items, self._appends = self._appends, []
        if not items:
            return
        try:
            answer = session.request(("append", [rows for rows, _ in items]))
        except StoreError as exc:
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return

        def settle(done: asyncio.Future[tuple[bool, Any]]) -> None:
            error = done.exception()
            firsts: list[int] = []
            if error is None:
                ok, value = done.result()
                if ok:
                    firsts = value
                else:
                    error = StoreError(str(value))
            for i, (_, future) in enumerate(items):
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(int(firsts[i]))

        answer.add_done_callback(settle)

    async def insert(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows`` with ``sql`` in one transaction (committed when this returns)."""
        await self._call(("insert", sql, list(rows)))

    async def size(self) -> int | None:
        """The head row's size (None: no head row)."""
        found = await self.query(self._size_sql, ())
        return int(found[0][0]) if found else None

    async def query(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """Rows of a read-only ``sql`` on the writer's connection."""
        return list(await self._call(("query", sql, tuple(params))))

    async def _call(self, request: tuple[Any, ...]) -> Any:
        ok, value = await (await self._running()).request(request)
        if not ok:
            raise StoreError(str(value))
        return value

    async def _running(self) -> _Session:
        loop = asyncio.get_running_loop()
        session = self._session
        if session is not None and session.alive and session.loop is loop:
            return session
        if self._starting is None or self._starting_loop is not loop:
            self._starting, self._starting_loop = asyncio.Lock(), loop
        async with self._starting:
            session = self._session
            if session is not None and session.alive and session.loop is loop:
                return session
            await self.close()
            script = str(Path(__file__).with_name("sqlite_writer.py"))
            try:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-I",
                    "-S",
                    script,
                    *self._args,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    start_new_session=True,  # a terminal's Ctrl-C is for the connector
                )
            except OSError as exc:
                raise StoreError(f"cannot start the ledger's writer process: {exc}") from exc
            session = _Session(proc, loop)
            ready = loop.create_future()
            session.waiting.append(ready)  # its first answer comes unasked
            await ready  # StoreError if the process exits instead
            self._session = session
            return session

    async def close(self) -> None:
        """Let the process finish what it was given, then stop it."""
        session, self._session = self._session, None
        if session is None:
            return
        proc = session.proc
        if session.loop is not asyncio.get_running_loop():
            # started on another (finished) event loop: nobody waits for it any more
            _kill(proc)
            return
        if session.alive:
            try:
                self._flush(session)  # appends of this turn go before the stop
                await session.request(("stop",))
                await asyncio.wait_for(proc.wait(), 30)
            except (StoreError, TimeoutError):
                _kill(proc)
        await proc.wait()
        await session.reader


class LedgerStore:
    """Reads and writes one log's rows. Every write is one transaction."""

    def __init__(self, engine: AsyncEngine, prefix: str = DEFAULT_PREFIX) -> None:
        self.engine = engine
        self.prefix = prefix
        self.tables = make_tables(prefix)
        self._marks = _param_marks(engine.dialect.paramstyle, 4)
        table = self._quoted(self.tables.records)
        self._insert_sql = (  # driver-level: bulk appends skip per-row SQLAlchemy processing
            f"INSERT INTO {table} (idx, leaf_hash, data, agreement_id) "
            f"VALUES ({', '.join(self._marks)})"
        )
        self._sql: dict[str, str] = {}  # driver-level INSERTs of the writer process, by table
        # single-statement reads need no transaction (BEGIN and ROLLBACK are round trips)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._appender: SqliteWriter | None = None
        #: PostgreSQL: the one-statement append (see :meth:`_append_pg`); returns the first index
        self._pg_append_sql: str | None = None
        if engine.dialect.name == "postgresql":
            head = self._quoted(self.tables.head)
            self._pg_append_sql = (
                f"WITH claim AS (UPDATE {head} SET size = size + $4 WHERE id = 1 RETURNING size),"
                f" added AS (INSERT INTO {table} (idx, leaf_hash, data, agreement_id)"
                " SELECT claim.size - $4 + r.n - 1, r.h, r.d, r.a FROM claim,"
                " unnest($1::bytea[], $2::bytea[], $3::text[]) WITH ORDINALITY AS r(h, d, a, n)"
                " RETURNING idx)"
                " SELECT min(idx) FROM added"
            )
        database = engine.url.database
        if engine.dialect.name == "sqlite" and database and database != ":memory:":
            self._appender = SqliteWriter(database, self._quoted(self.tables.head), table)

    @property
    def groups_appends(self) -> bool:
        """True when appends handed over while one commits join the next commit by
        themselves (the SQLite writer process): the caller need not wait to batch them."""
        return self._appender is not None

    async def close(self) -> None:
        """Stop the SQLite writer process (if any); reads keep working through the engine."""
        if self._appender is not None:
            await self._appender.close()
            self._appender = None

    @property
    def writer_pid(self) -> int | None:
        """The process id of the SQLite writer while it runs (None on PostgreSQL)."""
        return self._appender.pid if self._appender is not None else None

    async def start(self) -> None:
        """Start the SQLite writer process now rather than at the first write (if any)."""
        if self._appender is not None:
            await self._appender.start()

    async def create_schema(self) -> None:
        await create_schema(self.engine, self.prefix)

    async def append_batch(self, rows: Sequence[tuple[bytes, bytes, str]]) -> int:
        """Append ``(leaf_hash, data, agreement_id)`` rows in one transaction; returns the first
        index. The head-row update serializes index assignment across processes."""
        if self._appender is not None:
            return await self._appender.append(rows)
        if self._pg_append_sql is not None and rows:
            return await self._append_pg(rows)
        try:
            async with self.engine.begin() as conn:
                new_size = await self._claim(conn, len(rows))
                first = new_size - len(rows)
                params = [(first + i, lh, d, agr) for i, (lh, d, agr) in enumerate(rows)]
                await conn.exec_driver_sql(self._insert_sql, params)
        except SQLAlchemyError as exc:
            raise StoreError(f"append of {len(rows)} records failed: {exc}") from exc
        return first

    async def _append_pg(self, rows: Sequence[tuple[bytes, bytes, str]]) -> int:
        """PostgreSQL: claim the indices and insert the rows in one statement, one round trip
        on the driver's connection (asyncpg prepares and caches it). A single statement is its
        own transaction, durable when it returns; concurrent appenders queue on the head row as
        in the transaction it replaces (BEGIN, UPDATE, INSERT, COMMIT: four round trips, and
        SQLAlchemy's work around each, about three quarters of an append's CPU)."""
        assert self._pg_append_sql is not None
        hashes = [lh for lh, _, _ in rows]
        data = [d for _, d, _ in rows]
        agreements = [a for _, _, a in rows]
        try:
            async with self._autocommit.connect() as conn:
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                first = await driver.fetchval(
                    self._pg_append_sql, hashes, data, agreements, len(rows)
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"append of {len(rows)} records failed: {exc}") from exc
        except Exception as exc:  # asyncpg's own errors: the statement did not run
            if type(exc).__module__.startswith("asyncpg"):
                raise StoreError(f"append of {len(rows)} records failed: {exc}") from exc
            raise
        if first is None:
            raise StoreError(f"the ledger head row of {self.prefix!r} is missing: create_schema")
        return int(first)

    async def _claim(self, conn: AsyncConnection, n: int) -> int:
        head = self.tables.head
        stmt = update(head).where(head.c.id == 1).values(size=head.c.size + n)
        result = await conn.execute(stmt.returning(head.c.size))
        size = result.scalar_one_or_none()
        if size is None:
            raise StoreError(f"the ledger head row of {self.prefix!r} is missing: create_schema")
        return int(size)

    async def size(self) -> int:
        head = self.tables.head
        if self._appender is not None:
            size = await self._appender.size()
        else:
            async with self.engine.connect() as conn:
                size = await conn.scalar(select(head.c.size).where(head.c.id == 1))
        if size is None:
            raise StoreError(f"the ledger head row of {self.prefix!r} is missing: create_schema")
        return int(size)

    async def _range(self, columns: str, start: int, end: int | None) -> list[Any]:
        """Rows of ``[start, end)`` in index order through the driver (no per-row processing:
        reading a million leaves is the hot path of open and of a full audit)."""
        table = self._quoted(self.tables.records)
        first, second = self._marks[:2]
        sql = f"SELECT {columns} FROM {table} WHERE idx >= {first}"
        params: tuple[int, ...] = (start,)
        if end is not None:
            sql += f" AND idx < {second}"
            params = (start, end)
        sql += " ORDER BY idx"

        def fetch(sync_conn: Any) -> list[Any]:
            cursor = sync_conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(sql, params)
                return list(cursor.fetchall())
            finally:
                cursor.close()

        async with self.engine.connect() as conn:
            with paused_gc():
                return await conn.run_sync(fetch)

    async def leaf_hashes(self, start: int, end: int | None = None) -> list[bytes]:
        """Leaf hashes of ``[start, end)`` in index order (to rebuild the in-memory tree)."""
        rows = await self._range("idx, leaf_hash", start, end)
        if rows and (rows[0][0] != start or rows[-1][0] != start + len(rows) - 1):
            missing = next(i for i, (idx, _) in enumerate(rows, start) if i != idx)
            raise StoreError(f"the log has a gap: index {missing} is missing")
        return [bytes(lh) for _, lh in rows]

    async def entries(self, start: int = 0, end: int | None = None) -> list[Entry]:
        """Stored leaves of ``[start, end)`` in index order, exactly as stored (not checked)."""
        rows = await self._range("idx, data, leaf_hash", start, end)
        with paused_gc():
            return [Entry(i, bytes(d), bytes(h)) for i, d, h in rows]

    async def entry(self, index: int) -> Entry | None:
        found = await self.entries(index, index + 1)
        return found[0] if found else None

    async def indices_of(self, agreement_id: str, leaf_hashes: Iterable[bytes]) -> dict[bytes, int]:
        """The first index of each of ``leaf_hashes`` logged under ``agreement_id``; a hash
        not in the log is absent from the answer (one indexed query per 500 hashes)."""
        table = self._quoted(self.tables.records)
        out: dict[bytes, int] = {}
        for chunk in _chunks(list(dict.fromkeys(leaf_hashes))):
            sql = (
                f"SELECT leaf_hash, MIN(idx) FROM {table} WHERE agreement_id = {self._marks[0]} "
                f"AND leaf_hash IN ({self._in_marks(len(chunk))}) GROUP BY leaf_hash"
            )
            rows = await self._read(sql, [agreement_id, *chunk])
            out.update((bytes(lh), int(i)) for lh, i in rows)
        return out

    async def countersigned(self, agreement_id: str, indices: Iterable[int]) -> set[int]:
        """Which of ``indices`` already have a countersigned receipt kept under
        ``agreement_id`` (one indexed query per 500 indices)."""
        table = self._quoted(self.tables.receipts)
        out: set[int] = set()
        for chunk in _chunks(sorted(set(indices))):
            sql = (
                f"SELECT idx, document FROM {table} WHERE agreement_id = {self._marks[0]} "
                f"AND idx IN ({self._in_marks(len(chunk))})"
            )
            for idx, document in await self._read(sql, [agreement_id, *chunk]):
                if json.loads(document).get("countersignature") is not None:
                    out.add(int(idx))
        return out

    def _quoted(self, table: Table) -> str:
        return self.engine.dialect.identifier_preparer.quote(table.name)

    def _in_marks(self, n: int) -> str:
        """Placeholders 2..n+1 in the driver's style (the first is the agreement id)."""
        return ", ".join(_param_marks(self.engine.dialect.paramstyle, n + 1)[1:])

    async def _read(self, sql: str, params: list[Any]) -> list[Any]:
        """Rows of driver-level ``sql``: on a SQLite file, asked of the writer process."""
        if self._appender is not None:
            return await self._appender.query(sql, params)
        async with self._autocommit.connect() as conn:
            result = await conn.exec_driver_sql(sql, tuple(params))
            return list(result.all())

    async def entries_for_agreement(self, agreement_id: str) -> list[Entry]:
        """Every stored leaf logged under ``agreement_id``, in index order (one query)."""
        r = self.tables.records
        stmt = select(r.c.idx, r.c.data, r.c.leaf_hash).where(r.c.agreement_id == agreement_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt.order_by(r.c.idx))).all()
        return [Entry(int(i), bytes(d), bytes(h)) for i, d, h in rows]

    async def indices_for_agreement(self, agreement_id: str) -> list[int]:
        r = self.tables.records
        stmt = select(r.c.idx).where(r.c.agreement_id == agreement_id).order_by(r.c.idx)
        async with self.engine.connect() as conn:
            return [int(i) for i in (await conn.scalars(stmt)).all()]

    async def put_tree_head(self, head: TreeHead) -> None:
        row = (head.size, head.root, head.timestamp, head.signature, head.kid)
        await self._insert(self.tables.tree_heads, _TREE_HEAD_COLUMNS, [row])

    async def tree_heads(self) -> list[TreeHead]:
        """Every signed head this log issued, oldest first."""
        th = self.tables.tree_heads
        stmt = select(th.c.size, th.c.root, th.c.timestamp, th.c.signature, th.c.kid)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt.order_by(th.c.id))).all()
        return [TreeHead(int(s), bytes(r), int(t), bytes(sig), k) for s, r, t, sig, k in rows]

    async def latest_tree_head(self) -> TreeHead | None:
        th = self.tables.tree_heads
        stmt = select(th.c.size, th.c.root, th.c.timestamp, th.c.signature, th.c.kid)
        stmt = stmt.order_by(th.c.size.desc(), th.c.id.desc()).limit(1)
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        size, root, timestamp, signature, kid = row
        return TreeHead(int(size), bytes(root), int(timestamp), bytes(signature), kid)

    async def put_anchor(self, anchor: AnchorRow) -> None:
        row = tuple(getattr(anchor, c) for c in _ANCHOR_COLUMNS)
        await self._insert(self.tables.anchors, _ANCHOR_COLUMNS, [row])

    async def anchors(self) -> list[AnchorRow]:
        a = self.tables.anchors
        cols = [a.c.size, a.c.root, a.c.timestamp, a.c.log_id, a.c.chain_id]
        cols += [a.c.contract, a.c.tx_hash, a.c.block_number]
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(*cols).order_by(a.c.id))).all()
        return [
            AnchorRow(int(s), bytes(r), int(t), bytes(lid), int(c), ct, tx, int(b))
            for s, r, t, lid, c, ct, tx, b in rows
        ]

    async def put_receipt(self, agreement_id: str, index: int, document: dict[str, Any]) -> None:
        await self.put_receipts([(agreement_id, index, document)])

    async def put_receipts(self, rows: Sequence[tuple[str, int, dict[str, Any]]]) -> None:
        """Store receipts ``(agreement id, index, document)`` in one transaction."""
        await self.put_receipt_texts([(aid, index, json.dumps(doc)) for aid, index, doc in rows])

    async def put_receipt_texts(self, rows: Sequence[tuple[str, int, str]]) -> None:
        """Store receipts ``(agreement id, index, JSON text of the document)``, one
        transaction."""
        if rows:
            await self._insert(self.tables.receipts, _RECEIPT_COLUMNS, rows)

    async def _insert(
        self, table: Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert ``rows`` (values of ``columns``) in one transaction: on SQLite in one hop to
        the writer process, else through the engine. :class:`StoreError` when it fails."""
        if self._appender is not None:
            sql = self._sql.get(table.name)
            if sql is None:
                name = self._quoted(table)
                marks = ", ".join(_param_marks(self.engine.dialect.paramstyle, len(columns)))
                sql = self._sql[table.name] = (
                    f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})"
                )
            await self._appender.insert(sql, rows)
            return
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(table), [dict(zip(columns, r, strict=True)) for r in rows]
                )
        except SQLAlchemyError as exc:
            raise StoreError(f"write to {table.name} failed: {exc}") from exc

    async def receipts(self, agreement_id: str | None = None) -> list[dict[str, Any]]:
        rc = self.tables.receipts
        stmt = select(rc.c.document).order_by(rc.c.id)
        if agreement_id is not None:
            stmt = stmt.where(rc.c.agreement_id == agreement_id)
        async with self.engine.connect() as conn:
            return [json.loads(d) for d in (await conn.scalars(stmt)).all()]
