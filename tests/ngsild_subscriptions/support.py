"""Shared by the subscription, temporal and proxy tests: connectors on loopback, an NGSI-LD
client, and a real HTTP receiver that records the notifications it gets."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connector.config import load_settings
from connector.http.auth import PRINCIPAL_KEY, Principal, authenticate, bearer_token
from connector.http.problems import Problem
from connector.ngsild.context import term_map
from connector.ngsild.pep import FULL_ACCESS, AccessScope
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector
from tests.support import NgsiClient

ERR = "https://uri.etsi.org/ngsi-ld/errors/"
MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883
FAST = {"notification_backoff_s": 0.05, "notification_timeout_s": 2.0, "periodic_tick_s": 0.1}


Client = NgsiClient


def make_participant(
    root: Path, storage_url: str, ngsild: dict[str, Any] | None = None, port: int = 0
) -> Path:
    directory = root / uuid.uuid4().hex[:8]
    init_participant(
        directory,
        "City of Murcia",
        "city",
        port=port,
        storage_url=storage_url,
        extra_settings={"ngsild": {**FAST, **(ngsild or {})}},
        dev_mode=True,
    )
    return directory


@asynccontextmanager
async def serving(directory: Path) -> AsyncIterator[Client]:
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield Client(connector, read_admin_key(directory), http)
        finally:
            await connector.stop()


def air(n: int, no2: float = 30, lon: float = -1.13, lat: float = 37.98) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{n:03d}",
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": no2, "unitCode": "GQ"},
        "temperature": {"type": "Property", "value": 21.5},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


@dataclass
class Receiver:
    """An aiohttp server on loopback that keeps every notification POSTed to it."""

    port: int = 0
    status: int = 204
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    _event: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), json.loads(await request.read())))
        self._event.set()
        return web.Response(status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.create_server(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, n: int, within: float = 5.0) -> list[Any]:
        async with asyncio.timeout(within):
            while len(self.received) < n:
                self._event.clear()
                await self._event.wait()
        return [body for _, body in self.received]


def mqtt_reachable() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=1):
            return True
    except OSError:
        return False


def require_mqtt() -> None:
    if mqtt_reachable():
        return
    if os.environ.get("CI"):
        pytest.fail(f"Mosquitto is not reachable at {MQTT_HOST}:{MQTT_PORT} (CI must start it)")
    pytest.skip(f"Mosquitto is not reachable at {MQTT_HOST}:{MQTT_PORT}")


def subscription(uri: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}},
        **extra,
    }


async def settle(seconds: float = 0.3) -> None:
    """Give background deliveries a moment (used only to assert that nothing arrives)."""
    await asyncio.sleep(seconds)


TM = term_map(None)
CONSUMER = "consumer-token"
# the consumer may see air quality stations' NO2 and location, only around Murcia
NARROW = AccessScope(
    entity_types=frozenset({TM.expand("AirQualityObserved")}),
    attributes=frozenset({TM.expand("NO2"), TM.expand("location")}),
    area={
        "type": "Polygon",
        "coordinates": [[[-1.3, 37.8], [-1.0, 37.8], [-1.0, 38.1], [-1.3, 38.1], [-1.3, 37.8]]],
    },
)


class ConsumerPep:
    """A stand-in for the policy component: one consumer with a narrowed scope."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def scope_for(
        self, request: web.Request, operation: str, target_types: set[str] | None
    ) -> AccessScope:
        self.seen.append(operation)
        if bearer_token(request) == CONSUMER:
            request[PRINCIPAL_KEY] = Principal("agreement", "did:web:company.example")
            return NARROW
        found = await authenticate(request)
        if found is None:
            raise Problem(401, "Unauthorized")
        request[PRINCIPAL_KEY] = found
        return FULL_ACCESS

    async def after(self, *args: Any) -> None:
        return None
