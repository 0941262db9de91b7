from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.enforcement.helpers import Provider, air, parking


@pytest.fixture
async def provider(db_url: str, participant_dir: Callable[..., Path]) -> AsyncIterator[Provider]:
    """The city's connector on each engine, with air stations (two outside the area) and
    parking spots."""
    directory = participant_dir(storage_url=db_url)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        p = Provider(connector, read_admin_key(directory), http)
        try:
            await p.seed([air(n) for n in range(1, 4)] + [air(8, lon=-1.3), air(9, lon=-1.3)])
            await p.seed([parking(n) for n in range(1, 3)])
            yield p
        finally:
            await connector.stop()
