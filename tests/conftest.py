"""Fixtures shared by every package's tests: both storage engines and running connectors."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.support import Running

pytest_plugins = ["tests.ngsild_fixtures"]  # broker, lite, receiver

PG_HOST = os.environ.get("AGORA_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("AGORA_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("AGORA_TEST_PG_USER", "postgres")


def postgres_available() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1):
            return True
    except OSError:
        return False


def _require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (CI must start it)")
    pytest.skip(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}")


async def _admin_execute(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    _require_postgres()
    name = f"agora_t_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'agora.db'}"
        return
    _require_postgres()
    name = f"agora_t_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def running(db_url: str, participant_dir: Callable[..., Path]) -> AsyncIterator[Running]:
    """A connector served on a loopback port, on each storage engine."""
    directory = participant_dir(storage_url=db_url)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield Running(connector, read_admin_key(directory), http)
        finally:
            await connector.stop()


@pytest.fixture
def participant_dir(tmp_path: Path) -> Callable[..., Path]:
    """Make a participant directory with `agora init`'s library call."""
    from connector.participant import init_participant

    def make(
        name: str = "City of Murcia", role: str = "city", storage_url: str | None = None, **kw: Any
    ) -> Path:
        directory = tmp_path / uuid.uuid4().hex[:8]
        kw.setdefault("dev_mode", True)  # connectors on loopback: explicitly development mode
        init_participant(directory, name, role, port=0, storage_url=storage_url, **kw)
        return directory

    return make
