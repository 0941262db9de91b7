"""Engine creation with the settings each backend needs to be safe under load."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connector.storage import write_gate


def is_postgres(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "postgresql"


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """The connector's SQLite connection settings (a ``connect`` event listener)."""
    # WAL lets readers run beside the writer; FULL sync makes an acknowledged commit durable;
    # busy_timeout turns writer contention into a short wait instead of "database is locked".
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _driver_autocommit(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # sqlite3 opens no transaction by itself


def sqlite_sync_twin(
    engine: AsyncEngine, *, pool_size: int, max_overflow: int, caller_begins: bool = False
) -> Engine:
    """A pysqlite engine on the file of SQLite ``engine``, with the same connection settings,
    for work that runs its statements without aiosqlite's thread hand-offs (the NGSI-LD
    store's threads, ``connector.storage.inline``). Its connections may move between threads.
    ``caller_begins``: sqlite3 opens no transaction by itself; the caller issues BEGIN."""
    url = engine.url.set(drivername="sqlite")
    sync = create_sync_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=pool_size,
        max_overflow=max_overflow,
    )
    event.listen(sync, "connect", sqlite_pragmas)
    if caller_begins:
        event.listen(sync, "connect", _driver_autocommit)
    return sync


def _skip_idle_rollbacks(engine: AsyncEngine) -> None:
    """Do not send a rollback to a SQLite connection that has no open transaction.

    Every read-only use of a pooled connection ends with a rollback (SQLAlchemy's, then the
    pool's reset). sqlite3 turns it into nothing when no transaction is open, but aiosqlite
    still hands it to the connection's thread and back: one round trip per read. Whether a
    transaction is open is a flag of the connection we can read here."""
    dialect = engine.dialect
    original = dialect.do_rollback

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            idle = not dbapi_connection.driver_connection.in_transaction
        except Exception:  # closed or not an aiosqlite connection: let the driver decide
            idle = False
        if not idle:
            original(dbapi_connection)

    dialect.do_rollback = do_rollback  # type: ignore[method-assign]


#: PostgreSQL: a pooled connection idle for longer than this is pinged before it is handed out
PING_AFTER_IDLE_S = 5.0


def _ping_when_idle(engine: AsyncEngine, after_s: float) -> None:
    """Check a pooled connection with a round trip only if it sat idle for ``after_s``.

    ``pool_pre_ping`` pings on every check-out: a round trip before every use of a connection,
    on a busy data plane as many round trips as the queries themselves. A connection the
    server dropped (restart, failover, idle timeout) is one that sat unused; one returned a
    moment ago is alive. Like HikariCP's validation bypass window, only idle connections are
    pinged; a dead one is replaced before anyone uses it."""
    dialect = engine.dialect
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info["agora_returned"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _handed_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("agora_returned")
        if returned is None or time.monotonic() - returned < after_s:
            return  # new, or in use a moment ago
        try:
            alive = dialect.do_ping(dbapi_conn)
        except Exception:
            alive = False
        if not alive:
            raise DisconnectionError("a pooled connection did not answer a ping")


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    if url.startswith("sqlite"):
        # a pool as large as PostgreSQL's: below it, bursts of readers open and close
        # connections (a thread and four PRAGMAs each) instead of reusing them
        engine = create_async_engine(url, pool_size=pool_size)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas)
        _skip_idle_rollbacks(engine)
        write_gate.install(engine, wait_s=10.0)  # writers queue in asyncio, not in busy sleeps
        return engine
    # A pool as large as the connections a busy replica holds at once: connections beyond it
    # (overflow) are closed when returned, and opening one costs milliseconds of CPU.
    engine = create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800
    )
    _ping_when_idle(engine, PING_AFTER_IDLE_S)
    return engine
