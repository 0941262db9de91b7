"""Per-person console keys the admin creates, each with a role (viewer, editor, admin).

Kept in the connector's ``settings_kv`` table (one row per key, only the key's SHA-256), so no
migration is needed and every replica sees the same keys. The admin key of agora.toml is always
an admin; a person's key is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.config import Settings
from connector.storage.schema import settings_kv
from connector.web.session import ADMIN_KEY_ID, ROLES

PREFIX = "web.staff."


@dataclass(frozen=True)
class StaffKey:
    id: str
    name: str
    role: str
    created: str


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def all_keys(engine: AsyncEngine) -> list[StaffKey]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(settings_kv.c.key, settings_kv.c.value).where(
                    settings_kv.c.key.startswith(PREFIX)
                )
            )
        ).all()
    out = []
    for row in rows:
        doc = json.loads(row.value)
        out.append(StaffKey(row.key[len(PREFIX) :], doc["name"], doc["role"], doc["created"]))
    return sorted(out, key=lambda k: k.created)


async def create(engine: AsyncEngine, name: str, role: str) -> tuple[StaffKey, str]:
    """A new key for ``name``: (its record, the key itself — shown once)."""
    assert role in ROLES
    key = "agora_" + secrets.token_urlsafe(24)
    kid = secrets.token_hex(6)
    created = datetime.now(UTC).isoformat()
    doc = {"name": name, "role": role, "sha256": _digest(key), "created": created}
    async with engine.begin() as conn:
        await conn.execute(
            insert(settings_kv).values(
                key=PREFIX + kid, value=json.dumps(doc), updated_at=datetime.now(UTC)
            )
        )
    return StaffKey(kid, name, role, created), key


async def remove(engine: AsyncEngine, kid: str) -> bool:
    async with engine.begin() as conn:
        done = await conn.execute(delete(settings_kv).where(settings_kv.c.key == PREFIX + kid))
    return bool(done.rowcount)


async def who(engine: AsyncEngine, settings: Settings, key: str) -> StaffKey | None:
    """The person a typed key belongs to (the admin key: the admin), or None."""
    if hmac.compare_digest(_digest(key), settings.security.admin_key_sha256):
        return StaffKey(ADMIN_KEY_ID, "admin", "admin", "")
    digest = _digest(key)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(settings_kv.c.key, settings_kv.c.value).where(
                    settings_kv.c.key.startswith(PREFIX)
                )
            )
        ).all()
    for row in rows:
        doc = json.loads(row.value)
        if hmac.compare_digest(doc["sha256"], digest):
            return StaffKey(row.key[len(PREFIX) :], doc["name"], doc["role"], doc["created"])
    return None


async def still_valid(engine: AsyncEngine, kid: str, role: str) -> bool:
    """Does the key a session came from still exist with that role?"""
    if kid == ADMIN_KEY_ID:
        return True
    async with engine.connect() as conn:
        row = (
            await conn.execute(select(settings_kv.c.value).where(settings_kv.c.key == PREFIX + kid))
        ).first()
    return row is not None and json.loads(row.value)["role"] == role
