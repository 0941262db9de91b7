"""What negotiations and transfers share as persisted processes: the row lock, the update that
records a state change, the error message of their protocol area, and the digests that make a
retried message an acknowledgement instead of a second transition."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Column, Table, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from connector.dsp.errors import Area, Code, DspError
from connector.dsp.runtime import digest, now, record_change
from connector.dsp.tables import received
from connector.storage.inline import Conn


def error(
    area: Area, status: int, code: Code, reason: str, row: Any = None, **pids: str | None
) -> DspError:
    """The area's error message, naming the process by the row's pids when there is a row."""
    if row is not None:
        pids = {"provider_pid": row.provider_pid, "consumer_pid": row.consumer_pid}
    return DspError(
        area,
        status,
        code,
        reason,
        provider_pid=pids.get("provider_pid"),
        consumer_pid=pids.get("consumer_pid"),
    )


# Statements built once, parameters bound per call: building a statement and computing its
# cache key costs SQLAlchemy about three times what running it costs on SQLite.


@cache
def row_by(key: Column[Any]) -> Executable:
    """SELECT the whole row whose ``key`` equals the bound parameter ``k``."""
    return select(key.table).where(key == bindparam("k"))


@cache
def _locked(table: Table) -> Executable:
    return select(table).where(table.c.pid == bindparam("k")).with_for_update()


@cache
def _update(table: Table, names: tuple[str, ...]) -> Executable:
    return (
        update(table)
        .where(table.c.pid == bindparam("w_pid"))
        .values({name: bindparam(f"v_{name}") for name in names})
        .returning(*table.c)
    )


_SEEN = select(received.c.digest).where(
    received.c.process_pid == bindparam("pid"), received.c.digest == bindparam("d")
)
_REMEMBER = insert(received).values(process_pid=bindparam("pid"), digest=bindparam("d"))


@cache
def _first_time(dialect_name: str) -> Executable:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(received)
        .values(process_pid=bindparam("pid"), digest=bindparam("d"))
        .on_conflict_do_nothing()
    )


async def lock(conn: Conn, table: Table, pid: str) -> Any:
    """The process row, locked for this transaction (FOR UPDATE; SQLite locks on write)."""
    return (await conn.execute(_locked(table), {"k": pid})).first()


async def set_fields(conn: Conn, table: Table, kind: str, pid: str, **values: Any) -> Any:
    """Update a process and return its new row (one statement: UPDATE … RETURNING); a new
    state is recorded for the listeners that run after commit."""
    values["updated_at"] = now()
    names = tuple(sorted(values))
    params = {f"v_{name}": values[name] for name in names}
    params["w_pid"] = pid
    result = await conn.execute(_update(table, names), params)
    if "state" in values:
        record_change(conn, kind, pid, values["state"])
    return result.one()


async def seen(conn: Conn, pid: str, d: str) -> bool:
    row = (await conn.execute(_SEEN, {"pid": pid, "d": d})).first()
    return row is not None


async def remember(conn: Conn, pid: str, d: str) -> None:
    await conn.execute(_REMEMBER, {"pid": pid, "d": d})


def _in_state(path_kind: str, msg: Any, state: str) -> str:
    return digest(f"{path_kind}\0{state}", msg)


async def is_retry(conn: Conn, pid: str, path_kind: str, msg: Any, state: str, legal: bool) -> bool:
    """Is ``msg``, arriving while the process is in ``state``, a retry of one applied before?

    DSP messages carry no message id, and the same message may legitimately come twice: a
    resumption repeats the first TransferStartMessage word for word, a provider may offer the
    same terms again after a counter-request. So a message seen before is a retry while the
    process is still in the state that message (and our automatic reaction to it) led to, or
    when it is not a legal transition now (a late retry is acknowledged, not refused); a seen
    message that is legal in a state the process has moved to since is new."""
    if await seen(conn, pid, _in_state(path_kind, msg, state)):
        return True
    return not legal and await seen(conn, pid, digest(path_kind, msg))


async def note_applied(conn: Conn, pid: str, path_kind: str, msg: Any, state: str) -> None:
    """Remember that ``msg`` was applied and led the process to ``state`` (see is_retry)."""
    await first_time(conn, pid, digest(path_kind, msg))
    await first_time(conn, pid, _in_state(path_kind, msg, state))


async def first_time(conn: Conn, pid: str, d: str) -> bool:
    """Remember a message; False if it was applied before (then this is a retry)."""
    stmt = _first_time(conn.dialect.name)
    return bool((await conn.execute(stmt, {"pid": pid, "d": d})).rowcount)
