"""A running connector for NGSI-LD tests, and a small client that speaks NGSI-LD to it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector

BASE = "/ngsi-ld/v1"


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any
    content_type: str


@dataclass
class Ngsi:
    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.connector.url + BASE

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        admin: bool = True,
        ctype: str = "application/json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        h = {"Authorization": f"Bearer {self.admin_key}"} if admin else {}
        data = raw
        if body is not None and raw is None:
            data = json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        async with self.http.request(
            method, self.url + path, data=data, headers=h, params=params
        ) as resp:
            text = await resp.text()
            parsed = json.loads(text) if text else None
            return Reply(resp.status, resp.headers, parsed, resp.content_type)

    async def get(self, path: str, **params: str) -> Reply:
        return await self.call("GET", path, params=params or None)

    async def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def create(self, entity: dict[str, Any]) -> None:
        reply = await self.post("/entities", entity)
        assert reply.status == 201, reply.body


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
