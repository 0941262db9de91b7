"""The subscriptions' and temporal API's demo step: the city subscribes to polluted stations
(HTTP, and MQTT when Mosquitto runs), a station's reading crosses the threshold, the
notification arrives, and the station's NO2 history is read back."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connector.ngsild.context import SDM_URL, link_header
from connector.ngsild.examples import load_examples
from connector.ngsild.model import now_iso

if TYPE_CHECKING:
    from connector.demo.space import DataSpace

MQTT_HOST, MQTT_PORT = "127.0.0.1", 1883


class DemoCheckFailed(Exception):
    """The broker answered something other than what the demo expects."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoCheckFailed(message)


def _mqtt_reachable() -> bool:
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=0.5):
            return True
    except OSError:
        return False


class _Receiver:
    """The tiny HTTP endpoint a consumer application would run."""

    def __init__(self) -> None:
        self.got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _post(self, request: web.Request) -> web.Response:
        await self.got.put(json.loads(await request.read()))
        return web.Response(status=204)

    async def __aenter__(self) -> _Receiver:
        app = web.Application()
        app.router.add_post("/air-alerts", self._post)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self.runner.setup()
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}/air-alerts"
        await web.SockSite(self.runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def _subscription(uri: str, name: str) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "subscriptionName": name,
        "entities": [{"type": "AirQualityObserved"}],
        "q": "NO2>40",
        "notification": {
            "attributes": ["NO2"],
            "format": "keyValues",
            "endpoint": {"uri": uri, "accept": "application/json"},
        },
    }


async def city_subscribes_and_reads_history(space: DataSpace) -> list[str]:
    city = space["city"]
    base = city.url + "/ngsi-ld/v1"
    headers = {
        "Authorization": f"Bearer {city.admin_key}",
        "Link": link_header(SDM_URL),
        "Content-Type": "application/json",
    }
    stations = [e for e in load_examples() if e["type"] == "AirQualityObserved"]
    station = min(stations, key=lambda e: e["NO2"]["value"])
    sid = station["id"]
    lines: list[str] = []
    created: list[str] = []
    async with _Receiver() as receiver:
        endpoints = [("HTTP", receiver.url)]
        topic = f"agora/demo/{uuid.uuid4().hex[:8]}/air"
        mqtt = _mqtt_reachable()
        if mqtt:
            endpoints.append(("MQTT", f"mqtt://{MQTT_HOST}:{MQTT_PORT}/{topic}"))
        else:
            lines.append(f"Mosquitto is not reachable at {MQTT_HOST}:{MQTT_PORT}: HTTP only")
        for kind, uri in endpoints:
            body = _subscription(uri, f"NO2 above 40 ({kind})")
            async with space.http.post(
                base + "/subscriptions", data=json.dumps(body), headers=headers
            ) as resp:
                _expect(resp.status == 201, f"creating the {kind} subscription: {resp.status}")
                created.append(resp.headers["Location"])
            lines.append(f"POST /subscriptions: AirQualityObserved q=NO2>40 → {kind} {uri}")
        listener = None
        if mqtt:
            import aiomqtt

            listener = aiomqtt.Client(MQTT_HOST, MQTT_PORT)
            await listener.__aenter__()
            await listener.subscribe(topic, qos=1)
        try:
            reading = {
                "NO2": {
                    "type": "Property",
                    "value": 58,
                    "unitCode": "GQ",
                    "observedAt": now_iso(),
                }
            }
            async with space.http.patch(
                f"{base}/entities/{sid}/attrs", data=json.dumps(reading), headers=headers
            ) as resp:
                _expect(resp.status == 204, f"updating {sid} answered {resp.status}")
            lines.append(
                f"PATCH {sid} ({station['name']['value']}): NO2 "
                f"{station['NO2']['value']} → 58 µg/m³"
            )
            async with asyncio.timeout(5):
                note = await receiver.got.get()
            _expect(note["data"][0]["id"] == sid, f"the notification is about {note['data']}")
            lines.append(
                f"HTTP notification {note['id']}: {json.dumps(note['data'], ensure_ascii=False)}"
            )
            if listener is not None:
                async with asyncio.timeout(5):
                    message = await anext(aiter(listener.messages))
                assert isinstance(message.payload, bytes | bytearray)
                envelope = json.loads(message.payload)
                _expect(envelope["body"]["data"][0]["id"] == sid, "wrong MQTT notification")
                lines.append(
                    f"MQTT message on {topic}: metadata {sorted(envelope['metadata'])}, "
                    f"body.data {json.dumps(envelope['body']['data'], ensure_ascii=False)}"
                )
        finally:
            if listener is not None:
                await listener.__aexit__(None, None, None)
            for location in created:
                async with space.http.delete(city.url + location, headers=headers):
                    pass
    async with space.http.get(
        f"{base}/temporal/entities/{sid}",
        params={"attrs": "NO2", "options": "temporalValues"},
        headers=headers,
    ) as resp:
        _expect(resp.status == 200, f"the temporal query answered {resp.status}")
        history = await resp.json()
    values = history["NO2"]["values"]
    _expect(len(values) >= 2, f"expected at least two NO2 readings, got {values}")
    lines.append(f"GET /temporal/entities/{sid}?attrs=NO2&options=temporalValues:")
    lines += [f"  {at}  NO2 {value} µg/m³" for value, at in values]
    return lines
