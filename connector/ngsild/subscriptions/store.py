"""Subscriptions in SQL (SQLite and PostgreSQL alike), so they survive restarts and are shared
by replicas. Delivery counters are updated with relative SQL increments, so concurrent
deliveries never lose a count."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.ngsild.errors import already_exists
from connector.ngsild.pep import AccessScope
from connector.ngsild.subscriptions.tables import subscriptions

S = subscriptions.c
Doc = dict[str, Any]


def scope_to_json(scope: AccessScope) -> str:
    return json.dumps(
        {
            "entity_types": sorted(scope.entity_types) if scope.entity_types is not None else None,
            "attributes": sorted(scope.attributes) if scope.attributes is not None else None,
            "area": scope.area,
        }
    )


def scope_from_json(text: str) -> AccessScope:
    raw = json.loads(text)
    types = raw.get("entity_types")
    attrs = raw.get("attributes")
    return AccessScope(
        entity_types=frozenset(types) if types is not None else None,
        attributes=frozenset(attrs) if attrs is not None else None,
        area=raw.get("area"),
        may_write=False,
    )


@dataclass
class StoredSubscription:
    doc: Doc
    restriction: AccessScope
    owner: str
    created_at: str
    modified_at: str
    times_sent: int = 0
    times_failed: int = 0
    last_notification: str | None = None
    last_success: str | None = None
    last_failure: str | None = None

    @property
    def id(self) -> str:
        sid: str = self.doc["id"]
        return sid


def _row(row: Any) -> StoredSubscription:
    return StoredSubscription(
        doc=json.loads(row.doc),
        restriction=scope_from_json(row.restriction),
        owner=row.owner,
        created_at=row.created_at,
        modified_at=row.modified_at,
        times_sent=row.times_sent,
        times_failed=row.times_failed,
        last_notification=row.last_notification,
        last_success=row.last_success,
        last_failure=row.last_failure,
    )


def from_row(row: Any) -> StoredSubscription:
    """A row of the subscription table (read by another component's query) as a subscription."""
    return _row(row)


class SubscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, sub: StoredSubscription) -> None:
        try:
            async with self.engine.begin() as conn:
                await conn.execute(
                    insert(subscriptions).values(
                        id=sub.id,
                        doc=json.dumps(sub.doc),
                        restriction=scope_to_json(sub.restriction),
                        owner=sub.owner,
                        created_at=sub.created_at,
                        modified_at=sub.modified_at,
                        expires_at=sub.doc.get("expiresAt"),
                        times_sent=0,
                        times_failed=0,
                    )
                )
        except IntegrityError:
            raise already_exists(f"a subscription {sub.id} already exists") from None

    async def get(self, sub_id: str) -> StoredSubscription | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(subscriptions).where(S.id == sub_id))).first()
        return _row(row) if row else None

    async def page(
        self, owner: str | None, limit: int, offset: int
    ) -> tuple[list[StoredSubscription], int]:
        stmt = select(subscriptions)
        count = select(func.count()).select_from(subscriptions)
        if owner is not None:
            stmt = stmt.where(S.owner == owner)
            count = count.where(S.owner == owner)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt.order_by(S.id).limit(limit).offset(offset))).all()
            total = int((await conn.execute(count)).scalar_one())
        return [_row(r) for r in rows], total

    async def all(self) -> list[StoredSubscription]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(subscriptions).order_by(S.id))).all()
        return [_row(r) for r in rows]

    async def replace_doc(self, sub_id: str, doc: Doc, modified_at: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(subscriptions)
                .where(S.id == sub_id)
                .values(
                    doc=json.dumps(doc), modified_at=modified_at, expires_at=doc.get("expiresAt")
                )
            )

    async def delete(self, sub_id: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(subscriptions).where(S.id == sub_id))
        return bool(result.rowcount)

    async def record(self, sub_id: str, at: str, ok: bool) -> None:
        """Count one notification attempt (after its retries) and its outcome."""
        values: dict[str, Any] = {"times_sent": S.times_sent + 1, "last_notification": at}
        if ok:
            values["last_success"] = at
        else:
            values["times_failed"] = S.times_failed + 1
            values["last_failure"] = at
        async with self.engine.begin() as conn:
            await conn.execute(update(subscriptions).where(S.id == sub_id).values(**values))
