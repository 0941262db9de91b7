"""Member side: which authority this participant applied to, kept in the runtime's key-value
table so every replica (and a restart) knows whose credentials and trusted-issuers list to use.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.storage import is_postgres
from connector.storage.schema import settings_kv

MEMBERSHIP_KEY = "trust.membership"


async def load_membership(engine: AsyncEngine) -> dict[str, Any] | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(settings_kv.c.value).where(settings_kv.c.key == MEMBERSHIP_KEY)
            )
        ).first()
    return None if row is None else dict(json.loads(row[0]))


async def save_membership(engine: AsyncEngine, state: dict[str, Any]) -> None:
    now = datetime.now(UTC)
    value = json.dumps(state)
    dialect = postgresql if is_postgres(engine) else sqlite
    stmt = dialect.insert(settings_kv).values(key=MEMBERSHIP_KEY, value=value, updated_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": value, "updated_at": now}
    )
    async with engine.begin() as conn:
        await conn.execute(stmt)
