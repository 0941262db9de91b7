"""Negotiations held for a prepayment that never comes are terminated, with a DSP termination
that says why — what a plain DSP peer (one that cannot pay through ``evm``) finally receives.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Final

from sqlalchemy import and_, select

from connector.dsp.negotiation import lock
from connector.dsp.negotiation_states import NState, Role
from connector.dsp.runtime import Dsp
from connector.dsp.tables import negotiations
from connector.market.billing import Payments, _aware
from connector.market.decisions import price_text

CODE: Final = "PaymentRequired"


async def expire_unpaid(dsp: Dsp, payments: Payments, timeout_s: float) -> int:
    """Terminate provider negotiations VERIFIED longer than ``timeout_s`` and still unpaid."""
    cutoff = datetime.now(UTC) - timedelta(seconds=timeout_s)
    async with dsp.ctx.db.connect() as conn:
        rows = (
            await conn.execute(
                select(negotiations.c.pid, negotiations.c.updated_at).where(
                    and_(
                        negotiations.c.role == Role.PROVIDER.value,
                        negotiations.c.state == NState.VERIFIED.value,
                    )
                )
            )
        ).all()
    ended = 0
    for found_row in rows:
        if _aware(found_row.updated_at) > cutoff:
            continue
        async with dsp.transaction() as conn:
            row = await lock(conn, found_row.pid)
            if row is None or row.state != NState.VERIFIED.value:
                continue
            if not await payments.hold(conn, row):
                continue
            found = await payments.priced(conn, row.agreement_id)
            what = price_text(found[1]) if found else "the price"
            reason = (
                f"payment required: {what} is paid in advance (evm, reference = SHA-256 of the "
                f"agreement id) and none was received within {timeout_s:g} s"
            )
            await dsp.negotiations.terminate(conn, row, reason, CODE)
            ended += 1
    return ended


async def expire_forever(
    dsp: Dsp, payments: Payments, timeout_s: float, log: logging.Logger
) -> None:
    every = min(30.0, max(0.5, timeout_s / 2))
    while True:
        await asyncio.sleep(every)
        try:
            await expire_unpaid(dsp, payments, timeout_s)
        except Exception:  # keep the task alive; the next round retries
            log.exception("market: expiring unpaid negotiations failed")
