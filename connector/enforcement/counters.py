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
from dataclasses import dataclass, field
from datetime import datetime

from policies.report import CounterSpec
from policies.usage import ConsumeResult, SqlUsageStore, window_key


@dataclass
class _Group:
    agreement_id: str
    spec: CounterSpec
    now: datetime
    waiters: list[tuple[int, asyncio.Future[ConsumeResult]]] = field(default_factory=list)


class BatchingUsageStore:
    """A :class:`policies.usage.UsageStore` that coalesces concurrent consumes."""

    def __init__(self, store: SqlUsageStore) -> None:
        self.store = store
        self._pending: dict[tuple[str, str, str], _Group] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.commits = 0  # observable: how many SQL consumes ran

    async def consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult:
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
        self.commits += 1
        result = await self.store.consume(group.agreement_id, group.spec, group.now, total)
        if result.ok:
            used = result.used - total
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
