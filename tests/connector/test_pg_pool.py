"""The PostgreSQL pool: idle connections are checked before use, busy ones are not pinged."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from connector.storage import engine as storage_engine
from connector.storage.engine import create_engine


async def _backend_pid(engine: object) -> int:
    async with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(await conn.scalar(text("SELECT pg_backend_pid()")))


async def test_a_connection_dropped_while_idle_is_replaced_unnoticed(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_engine, "PING_AFTER_IDLE_S", 0.2)
    engine = create_engine(postgres_url, pool_size=1)
    other = create_engine(postgres_url, pool_size=1)
    try:
        first = await _backend_pid(engine)
        async with other.connect() as conn:  # the server drops it (restart, idle timeout …)
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await asyncio.sleep(0.3)
        second = await _backend_pid(engine)  # pinged, found dead, replaced: no error
        assert second != first
    finally:
        await engine.dispose()
        await other.dispose()


async def test_a_connection_returned_a_moment_ago_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_url, pool_size=1)
    pings: list[object] = []
    original = engine.dialect.do_ping

    def counted(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return bool(original(dbapi_connection))

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    try:
        pids = {await _backend_pid(engine) for _ in range(20)}
        assert len(pids) == 1 and pings == []  # one pooled connection, used back to back
        monkeypatch.setattr(storage_engine, "PING_AFTER_IDLE_S", 0.0)
        idle = create_engine(postgres_url, pool_size=1)
        monkeypatch.setattr(idle.dialect, "do_ping", counted)
        try:
            await _backend_pid(idle)
            await _backend_pid(idle)  # returned, then handed out again: pinged now
            assert len(pings) == 1
        finally:
            await idle.dispose()
    finally:
        await engine.dispose()
