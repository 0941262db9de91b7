"""Telling a database that is briefly unable to serve from a bug in our own statements.

A PostgreSQL out of connection slots, restarting or unreachable, a pool that timed out, or a
SQLite file locked by another writer past its busy timeout: the request did nothing wrong and
may be retried, so it gets 503 with ``Retry-After``, not 500.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa_exc

# SQLSTATE classes (PostgreSQL appendix A): 08 connection exception, 53 insufficient resources
# (too many connections, out of memory or disk), 57P0x operator intervention (shutdown, starting).
_TRANSIENT_SQLSTATE = ("08", "53", "57P")


def _sqlstate(error: BaseException | None) -> str:
    seen = 0
    while error is not None and seen < 5:
        state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if isinstance(state, str):
            return state
        error = error.__cause__ or getattr(error, "orig", None)
        seen += 1
    return ""


def is_storage_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot serve now, rather than that a statement
    is wrong."""
    if isinstance(error, sa_exc.TimeoutError):  # the pool had no connection in time
        return True
    if isinstance(error, sqlite3.OperationalError):
        return "locked" in str(error) or "busy" in str(error)
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if _sqlstate(error).startswith(_TRANSIENT_SQLSTATE):
        return True
    if isinstance(error.orig, sqlite3.OperationalError):
        text = str(error.orig)
        return "locked" in text or "busy" in text
    return isinstance(error, sa_exc.InterfaceError | sa_exc.OperationalError) and (
        "connect" in str(error.orig).lower()
    )
