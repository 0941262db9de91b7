from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import _admin_execute
from tests.dsp.helpers import Node, running_pair, start_node


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    """(provider, consumer): a city and a company connector on loopback, SQLite storage."""
    async with running_pair(tmp_path) as nodes:
        yield nodes


@pytest.fixture
async def second_db(db_url: str) -> AsyncIterator[str | None]:
    """On PostgreSQL a second database for the second connector; on SQLite its own file."""
    if not db_url.startswith("postgresql"):
        yield None
        return
    name = f"agora_t_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield db_url.rsplit("/", 1)[0] + "/" + name
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def pair_on(
    db_url: str, second_db: str | None, tmp_path: Path
) -> AsyncIterator[tuple[Node, Node]]:
    """(provider, consumer), both storing on each engine in turn (SQLite, PostgreSQL)."""
    async with aiohttp.ClientSession() as http:
        city = await start_node(tmp_path, "city", "city", storage_url=db_url, http=http)
        company = await start_node(tmp_path, "company", "company", storage_url=second_db, http=http)
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Node, Node]]:
    """One (provider, consumer) pair for a whole module of independent small tests."""
    root = tmp_path_factory.mktemp("dsp-shared")
    async with aiohttp.ClientSession() as http:
        city = await start_node(root, "city", "city", http=http)
        company = await start_node(root, "company", "company", http=http)
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()
