"""A running connector for NGSI-LD tests, and a small client that speaks NGSI-LD to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.support import NgsiClient

Ngsi = NgsiClient


async def _start(directory: Path) -> tuple[Connector, str]:
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    return connector, read_admin_key(directory)


@pytest.fixture
async def ngsi(db_url: str, participant_dir: Callable[..., Path]) -> AsyncIterator[Ngsi]:
    """On SQLite and on PostgreSQL: for tests where storage matters."""
    connector, key = await _start(participant_dir(storage_url=db_url))
    async with aiohttp.ClientSession() as http:
        try:
            yield Ngsi(connector, key, http)
        finally:
            await connector.stop()


@pytest.fixture
async def ngsi_lite(tmp_path: Path, participant_dir: Callable[..., Path]) -> AsyncIterator[Ngsi]:
    """On SQLite only: for parsing, negotiation and error tests."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ngsi.db'}"
    connector, key = await _start(participant_dir(storage_url=url))
    async with aiohttp.ClientSession() as http:
        try:
            yield Ngsi(connector, key, http)
        finally:
            await connector.stop()


def air(
    n: int, no2: float = 40, lon: float = -1.13, lat: float = 37.98, **extra: Any
) -> dict[str, Any]:
    """A small AirQualityObserved entity (default @context terms)."""
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{n:03d}",
        "type": "AirQualityObserved",
        "NO2": {
            "type": "Property",
            "value": no2,
            "unitCode": "GQ",
            "observedAt": "2025-03-04T10:00:00Z",
        },
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
        **extra,
    }
