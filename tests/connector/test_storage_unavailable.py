"""A database that drops the connector's connections (a restart, a failover, an operator's
pg_terminate_backend) gets 503 + Retry-After for the requests caught in it, never 500, and the
connector recovers by itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.conftest import _admin_execute
from tests.support import NGSI_LD, Running


@pytest.fixture
async def on_postgres(
    postgres_url: str, participant_dir: Callable[..., Path]
) -> AsyncIterator[tuple[Running, str]]:
    directory = participant_dir(storage_url=postgres_url)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield (
                Running(connector, read_admin_key(directory), http),
                postgres_url.rsplit("/", 1)[1],
            )
        finally:
            await connector.stop()


async def _entities(running: Running) -> aiohttp.ClientResponse:
    return await running.call("GET", f"{NGSI_LD}/entities?type=Probe&limit=5", admin=True)


async def test_dropped_connections_are_503_and_the_connector_recovers(
    on_postgres: tuple[Running, str],
) -> None:
    running, database = on_postgres
    assert (await _entities(running)).status == 200

    await _admin_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    statuses = []
    for _ in range(3):
        answer = await _entities(running)
        statuses.append(answer.status)
        if answer.status == 503:
            assert answer.headers["Retry-After"] == "1"
            body = await answer.json()
            assert body["status"] == 503 and "database" in body["detail"]
    assert 500 not in statuses and 503 in statuses, statuses
    assert statuses[-1] == 200, statuses  # the pool replaced the dropped connections
