"""Forget delivery bookkeeping that can no longer matter.

Sent (or given-up) outbox rows and the digests of messages applied to processes that ended long
ago only grow the tables: a peer retries for minutes, not weeks. Agreements, processes and
their states are kept; the ledger keeps the evidence.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from logging import Logger

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.tables import negotiations, outbox, received, transfers

ENDED = ("FINALIZED", "TERMINATED", "COMPLETED")


async def prune(engine: AsyncEngine, older_than_s: float) -> tuple[int, int]:
    """Delete old delivered outbox rows and old digests of ended processes; (rows, digests)."""
    cutoff = time.time() - older_than_s
    cutoff_dt = datetime.now(UTC) - timedelta(seconds=older_than_s)
    ended = (
        select(negotiations.c.pid)
        .where(negotiations.c.state.in_(ENDED), negotiations.c.updated_at < cutoff_dt)
        .union_all(
            select(transfers.c.pid).where(
                transfers.c.state.in_(ENDED), transfers.c.updated_at < cutoff_dt
            )
        )
    )
    async with engine.begin() as conn:
        rows = await conn.execute(
            delete(outbox).where(
                outbox.c.status.in_(("sent", "failed")), outbox.c.created_at < cutoff
            )
        )
        digests = await conn.execute(delete(received).where(received.c.process_pid.in_(ended)))
    return rows.rowcount or 0, digests.rowcount or 0


async def prune_forever(
    engine: AsyncEngine, older_than_s: float, log: Logger, every_s: float = 3600.0
) -> None:
    while True:
        try:
            rows, digests = await prune(engine, older_than_s)
            if rows or digests:
                log.info("dsp retention: %d outbox rows, %d digests removed", rows, digests)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dsp retention pass failed")
        await asyncio.sleep(every_s)
