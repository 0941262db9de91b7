"""Small persistent settings of the provenance component (the connector's ``settings_kv``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.storage.schema import settings_kv


async def kv_get(engine: AsyncEngine, key: str) -> str | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == key))
        ).first()
    return None if row is None else str(row[0])


async def kv_put(engine: AsyncEngine, key: str, value: str) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    now = datetime.now(UTC)
    stmt = dialect.insert(settings_kv).values(key=key, value=value, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now}
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)
