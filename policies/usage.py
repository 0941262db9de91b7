"""Usage state: counters with limits per agreement and window, and the async authorize step.

A ``count lteq 1000`` constraint (optionally with ``unit agora:perMonth``) is only as good as its
counter. The compiled decision checks a snapshot; :func:`authorize` then *consumes* atomically, so
two replicas of a connector sharing PostgreSQL can never together exceed the limit: the consume is
one ``UPDATE … SET used = used + n WHERE … AND used + n <= limit RETURNING used``.

Windows are UTC calendar periods (``perMonth`` → ``2026-11``); no window means the whole agreement.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from .compiler import CompiledPolicy, Verdict
from .errors import UsageError
from .explain import exhausted
from .report import ConsumeResult, CounterSpec, Decision
from .world import EvaluationRequest, World


def window_key(window: str | None, now: datetime) -> str:
    """The identifier of the window ``now`` falls in."""
    now = now.astimezone(UTC)
    if window is None:
        return "all"
    if window == "perHour":
        return now.strftime("%Y-%m-%dT%H")
    if window == "perDay":
        return now.strftime("%Y-%m-%d")
    if window == "perWeek":
        year, week, _ = now.isocalendar()
        return f"{year}-W{week:02d}"
    if window == "perMonth":
        return now.strftime("%Y-%m")
    if window == "perYear":
        return now.strftime("%Y")
    raise UsageError(f"unknown counting window {window!r}")


def window_start(window: str | None, now: datetime) -> datetime | None:
    now = now.astimezone(UTC)
    if window is None:
        return None
    if window == "perHour":
        return now.replace(minute=0, second=0, microsecond=0)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "perDay":
        return day
    if window == "perWeek":
        return day - timedelta(days=day.weekday())
    if window == "perMonth":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


class UsageStore(Protocol):
    """Where counters live. Implementations must make :meth:`consume` atomic."""

    async def consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult: ...

    async def release(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> None: ...

    async def used(
        self, agreement_id: str, spec: CounterSpec, now: datetime
    ) -> tuple[int, datetime | None]: ...


class InMemoryUsageStore:
    """Counters in a dict, for tests and single-process embedding (lost on restart)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str, str], tuple[int, datetime | None]] = {}
        self._lock = asyncio.Lock()

    async def consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult:
        key = (agreement_id, spec.key, window_key(spec.window, now))
        async with self._lock:
            used, at = self._data.get(key, (0, None))
            if used + amount > spec.limit:
                return ConsumeResult(False, used, spec.limit, key[2], at)
            self._data[key] = (used + amount, now)
            return ConsumeResult(True, used + amount, spec.limit, key[2], now)

    async def release(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> None:
        key = (agreement_id, spec.key, window_key(spec.window, now))
        async with self._lock:
            used, at = self._data.get(key, (0, None))
            self._data[key] = (max(0, used - amount), at)

    async def used(
        self, agreement_id: str, spec: CounterSpec, now: datetime
    ) -> tuple[int, datetime | None]:
        return self._data.get((agreement_id, spec.key, window_key(spec.window, now)), (0, None))


metadata = sa.MetaData()

usage_counters = sa.Table(
    "policy_usage_counters",
    metadata,
    sa.Column("agreement_id", sa.String(512), primary_key=True),
    sa.Column("counter_key", sa.String(512), primary_key=True),
    sa.Column("window_key", sa.String(32), primary_key=True),
    sa.Column("used", sa.Integer, nullable=False, default=0),
    sa.Column("usage_limit", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)


async def create_schema(engine: AsyncEngine) -> None:
    """Create the counter table (the connector's Alembic migrations create the same)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        return v.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
    return v


class SqlUsageStore:
    """Counters in SQL (SQLite or PostgreSQL) through SQLAlchemy Core, async.

    ``table`` lets tests (or a multi-tenant deployment) use a differently named copy.
    """

    def __init__(self, engine: AsyncEngine, table: sa.Table = usage_counters) -> None:
        self.engine = engine
        self.t = table

    def _pk(self, agreement_id: str, spec: CounterSpec, wkey: str) -> sa.ColumnElement[bool]:
        t = self.t
        return sa.and_(
            t.c.agreement_id == agreement_id, t.c.counter_key == spec.key, t.c.window_key == wkey
        )

    async def _ensure_row(
        self, conn: AsyncConnection, agreement_id: str, spec: CounterSpec, wkey: str
    ) -> None:
        values = {
            "agreement_id": agreement_id,
            "counter_key": spec.key,
            "window_key": wkey,
            "used": 0,
            "usage_limit": spec.limit,
        }
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            await conn.execute(pg_insert(self.t).values(**values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            await conn.execute(sqlite_insert(self.t).values(**values).on_conflict_do_nothing())
        else:  # pragma: no cover - other dialects: best effort
            try:
                async with conn.begin_nested():
                    await conn.execute(sa.insert(self.t).values(**values))
            except sa.exc.IntegrityError:
                pass

    async def consume(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> ConsumeResult:
        wkey = window_key(spec.window, now)
        t = self.t
        stmt = (
            sa.update(t)
            .where(self._pk(agreement_id, spec, wkey), t.c.used + amount <= spec.limit)
            .values(used=t.c.used + amount, usage_limit=spec.limit, updated_at=now)
            .returning(t.c.used)
        )
        try:
            async with self.engine.begin() as conn:
                row = (await conn.execute(stmt)).first()
                if row is None:
                    await self._ensure_row(conn, agreement_id, spec, wkey)
                    row = (await conn.execute(stmt)).first()
                if row is not None:
                    return ConsumeResult(True, int(row[0]), spec.limit, wkey, now)
                cur = (
                    await conn.execute(
                        sa.select(t.c.used, t.c.updated_at).where(
                            self._pk(agreement_id, spec, wkey)
                        )
                    )
                ).first()
        except sa.exc.SQLAlchemyError as exc:
            raise UsageError(f"could not record usage: {exc}") from exc
        used = int(cur[0]) if cur else 0
        return ConsumeResult(False, used, spec.limit, wkey, _aware(cur[1]) if cur else None)

    async def release(
        self, agreement_id: str, spec: CounterSpec, now: datetime, amount: int = 1
    ) -> None:
        wkey = window_key(spec.window, now)
        t = self.t
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(t)
                .where(self._pk(agreement_id, spec, wkey), t.c.used >= amount)
                .values(used=t.c.used - amount)
            )

    async def used(
        self, agreement_id: str, spec: CounterSpec, now: datetime
    ) -> tuple[int, datetime | None]:
        wkey = window_key(spec.window, now)
        t = self.t
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(t.c.used, t.c.updated_at).where(self._pk(agreement_id, spec, wkey))
                )
            ).first()
        return (int(row[0]), _aware(row[1])) if row else (0, None)


async def snapshot(
    store: UsageStore, agreement_id: str, specs: tuple[CounterSpec, ...], now: datetime
) -> tuple[dict[str, int], dict[str, datetime]]:
    """Current counts (and last-use times) for :class:`World`'s ``usage``/``usage_updated``."""
    used: dict[str, int] = {}
    updated: dict[str, datetime] = {}
    for spec in specs:
        n, at = await store.used(agreement_id, spec, now)
        used[spec.key] = n
        if at is not None:
            updated[spec.key] = at
    return used, updated


async def authorize(
    compiled: CompiledPolicy,
    request: EvaluationRequest,
    world: World,
    store: UsageStore,
    agreement_id: str | None = None,
) -> Verdict:
    """Decide, then atomically consume the permission's counters; deny if one is exhausted.

    This is the call the enforcement point makes per data-plane request.
    """
    verdict = compiled.decide(request, world)
    if verdict.decision is not Decision.PERMIT or not verdict.counters:
        return verdict
    aid = agreement_id or compiled.uid
    done: list[CounterSpec] = []
    for spec in verdict.counters:
        result = await store.consume(aid, spec, world.now)
        if not result.ok:
            for d in done:
                await store.release(aid, d, world.now)
            return Verdict(Decision.DENY, verdict.rule, "denied — " + exhausted(spec, result))
        done.append(spec)
    return verdict
