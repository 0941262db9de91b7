"""What negotiations and transfers share as persisted processes: the row lock, the update that
records a state change, the error message of their protocol area, and the digests that make a
retried message an acknowledgement instead of a second transition."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from connector.dsp.errors import Area, Code, DspError
from connector.dsp.runtime import now, record_change
from connector.dsp.tables import received


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


async def lock(conn: AsyncConnection, table: Table, pid: str) -> Any:
    """The process row, locked for this transaction (FOR UPDATE; SQLite locks on write)."""
    return (await conn.execute(select(table).where(table.c.pid == pid).with_for_update())).first()


async def set_fields(
    conn: AsyncConnection, table: Table, kind: str, pid: str, **values: Any
) -> Any:
    """Update a process and return its new row (one statement: UPDATE … RETURNING); a new
    state is recorded for the listeners that run after commit."""
    result = await conn.execute(
        update(table)
        .where(table.c.pid == pid)
        .values(updated_at=now(), **values)
        .returning(*table.c)
    )
    if "state" in values:
        record_change(conn, kind, pid, values["state"])
    return result.one()


async def seen(conn: AsyncConnection, pid: str, d: str) -> bool:
    row = (
        await conn.execute(
            select(received.c.digest).where(received.c.process_pid == pid, received.c.digest == d)
        )
    ).first()
    return row is not None


async def remember(conn: AsyncConnection, pid: str, d: str) -> None:
    await conn.execute(insert(received).values(process_pid=pid, digest=d))


async def first_time(conn: AsyncConnection, pid: str, d: str) -> bool:
    """Remember a message; False if it was applied before (then this is a retry)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(received).values(process_pid=pid, digest=d).on_conflict_do_nothing()
    return bool((await conn.execute(stmt)).rowcount)
