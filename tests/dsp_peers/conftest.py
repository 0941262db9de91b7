"""An Agora connector on loopback and a counter-party that speaks only DSP 2025-1, shared by
the whole package (one event loop, one connector start): each test makes its own datasets and
processes, so they do not depend on one another."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from tests.dsp.helpers import Node, start_node
from tests.dsp_peers.peer import Peer

SIGNATURE_EXTENSION = "https://w3id.org/agora/dsp#providerSignature"


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def agora(
    tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession
) -> AsyncIterator[Node]:
    node = await start_node(tmp_path_factory.mktemp("agora"), "city", "city", http=http)
    try:
        yield node
    finally:
        await node.connector.stop()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def peer(http: aiohttp.ClientSession) -> AsyncIterator[Peer]:
    """Another vendor's connector: no Agora extensions advertised."""
    found = Peer()
    await found.start(http)
    try:
        yield found
    finally:
        await found.stop()


@pytest_asyncio.fixture(scope="package", loop_scope="package")
async def claiming_peer(http: aiohttp.ClientSession) -> AsyncIterator[Peer]:
    """A peer whose DID document says it signs its agreements as Agora does."""
    found = Peer(extensions=[SIGNATURE_EXTENSION])
    await found.start(http)
    try:
        yield found
    finally:
        await found.stop()
