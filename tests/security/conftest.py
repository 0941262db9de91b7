"""Fixtures of the security tests: a provider and a consumer connector for the whole module,
and the recursion limit as high as web3 leaves it, so that a decoder that recursed on the C
stack would crash the test process instead of passing."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import pytest_asyncio

from tests.dsp.helpers import Node, start_node
from tests.support import NgsiClient

#: What py_ecc sets the limit to on import (the value that made the C decoder overflow).
WEB3_RECURSION_LIMIT = 100_000


@pytest.fixture
def web3_recursion_limit() -> Iterator[None]:
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(WEB3_RECURSION_LIMIT)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Node, Node]]:
    """(city, company): two connectors on loopback (SQLite) that trust each other's DCP tokens."""
    root = tmp_path_factory.mktemp("security")
    async with aiohttp.ClientSession() as http:
        city = await start_node(root, "city", "city", http=http)
        company = await start_node(root, "company", "company", http=http)
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[NgsiClient]:
    """One connector (SQLite) for a module of independent attacks on its NGSI-LD and
    management APIs."""
    from connector.config import load_settings
    from connector.participant import init_participant, read_admin_key
    from connector.runtime import Connector

    directory = tmp_path_factory.mktemp("security-city") / "city"
    init_participant(directory, "City of Murcia", "city", port=0)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield NgsiClient(connector, read_admin_key(directory), http)
        finally:
            await connector.stop()
