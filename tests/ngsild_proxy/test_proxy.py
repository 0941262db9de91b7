"""Proxy mode: a second Agora connector (embedded broker) stands in for Orion-LD/Scorpio/
Stellio; the proxy forwards /ngsi-ld/v1 to it, still through its own PEP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.ngsild_subscriptions.support import (
    CONSUMER,
    ERR,
    Client,
    ConsumerPep,
    air,
    make_participant,
    serving,
    subscription,
)
from tests.support import Reply

S1 = "urn:ngsi-ld:AirQualityObserved:001"
SMART = "https://smartdatamodels.org/context.jsonld"


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Client, Client]]:
    """(upstream broker, proxy connector in front of it). SQLite only: what is tested is the
    forwarding; the upstream's storage is the embedded broker's own concern."""
    lite = f"sqlite+aiosqlite:///{tmp_path / 'upstream.db'}"
    async with serving(make_participant(tmp_path, lite)) as upstream:
        proxy_dir = make_participant(
            tmp_path,
            f"sqlite+aiosqlite:///{tmp_path / 'proxy.db'}",
            {
                "mode": "proxy",
                "upstream": upstream.url,
                "upstream_token": upstream.admin_key,
                "timeout_s": 5,
            },
        )
        async with serving(proxy_dir) as proxy:
            yield upstream, proxy


async def test_writes_and_reads_go_both_ways(pair: tuple[Client, Client]) -> None:
    upstream, proxy = pair
    created = await proxy.post("/entities", air(1, no2=44))
    assert created.status == 201, created.body
    assert created.headers["Location"] == f"/ngsi-ld/v1/entities/{S1}"
    assert (await upstream.get(f"/entities/{S1}")).body["NO2"]["value"] == 44

    await upstream.post("/entities", air(2, no2=12))
    listed = await proxy.get("/entities", type="AirQualityObserved", count="true")
    assert listed.status == 200
    assert listed.headers["NGSILD-Results-Count"] == "2"
    assert "json-ld#context" in listed.headers["Link"]
    assert [e["id"] for e in listed.body] == [S1, "urn:ngsi-ld:AirQualityObserved:002"]

    # Link and Accept pass through: the upstream compacts with the client's context
    ld = await proxy.call(
        "GET",
        f"/entities/{S1}",
        headers={
            "Accept": "application/ld+json",
            "Link": f'<{SMART}>; rel="http://www.w3.org/ns/json-ld#context"; '
            'type="application/ld+json"',
        },
    )
    assert ld.status == 200 and ld.body["@context"] == SMART

    patched = await proxy.patch(f"/entities/{S1}/attrs", {"NO2": 50})
    assert patched.status == 204
    assert (await upstream.get(f"/entities/{S1}")).body["NO2"]["value"] == 50
    # subscriptions and temporal history are the upstream's
    sub = await proxy.post("/subscriptions", subscription("http://127.0.0.1:9/n"))
    assert sub.status == 201
    assert len((await upstream.get("/subscriptions")).body) == 1
    history = await proxy.get(f"/temporal/entities/{S1}", attrs="NO2")
    assert [i["value"] for i in history.body["NO2"]] == [44, 50]
    assert (await proxy.delete(f"/entities/{S1}")).status == 204
    assert (await upstream.get(f"/entities/{S1}")).status == 404


async def test_upstream_problems_are_preserved(pair: tuple[Client, Client]) -> None:
    _, proxy = pair
    missing = await proxy.get("/entities/urn:ngsi-ld:Thing:none")
    assert missing.status == 404
    assert missing.body["type"] == ERR + "ResourceNotFound"
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    bad = await proxy.post("/entities", {"id": "not a uri", "type": "T"})
    assert bad.status == 400 and bad.body["type"] == ERR + "BadRequestData"
    assert (await proxy.post("/entities", air(3))).status == 201
    dup = await proxy.post("/entities", air(3))
    assert dup.status == 409 and dup.body["type"] == ERR + "AlreadyExists"
    # the proxy's own guard: no admin key, no forwarding
    assert (await proxy.call("GET", "/entities", admin=False, params={"type": "T"})).status == 401


async def test_narrowed_scope_filters_upstream_answers(pair: tuple[Client, Client]) -> None:
    upstream, proxy = pair
    assert proxy.connector.ctx is not None
    proxy.connector.ctx.components["ngsild.pep"] = ConsumerPep()
    await upstream.post("/entities", air(1, no2=44))
    await upstream.post("/entities", air(2, no2=50, lon=-3.70, lat=40.41))  # outside the area
    await upstream.post(
        "/entities",
        {
            "id": "urn:ngsi-ld:WeatherObserved:1",
            "type": "WeatherObserved",
            "temperature": {"type": "Property", "value": 30},
            "location": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [-1.13, 37.98]},
            },
        },
    )
    consumer = {"Authorization": f"Bearer {CONSUMER}"}

    async def as_consumer(
        method: str, path: str, body: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        return await proxy.call(method, path, body, admin=False, headers=consumer, params=params)

    listed = await as_consumer("GET", "/entities", params={"type": "AirQualityObserved"})
    assert [e["id"] for e in listed.body] == [S1]
    assert set(listed.body[0]) == {"id", "type", "NO2", "location"}
    by_id = await as_consumer("GET", f"/entities/{S1}", params={"options": "keyValues"})
    assert by_id.body == {
        "id": S1,
        "type": "AirQualityObserved",
        "NO2": 44,
        "location": {"type": "Point", "coordinates": [-1.13, 37.98]},
    }
    hidden = await as_consumer("GET", "/entities/urn:ngsi-ld:WeatherObserved:1")
    assert hidden.status == 404
    # no type given: the allowed types are pushed upstream, counts stay right
    near = await as_consumer(
        "GET", "/entities", params={"q": "NO2>0;temperature>0", "count": "true"}
    )
    assert near.status == 403  # q on a hidden attribute would disclose it
    allowed_q = await as_consumer("GET", "/entities", params={"q": "NO2>40", "count": "true"})
    assert [e["id"] for e in allowed_q.body] == [S1]
    # types and area were pushed upstream: the count is that of the permitted data
    assert allowed_q.headers["NGSILD-Results-Count"] == "1"
    history = await as_consumer("GET", f"/temporal/entities/{S1}")
    assert set(history.body) == {"id", "type", "NO2", "location"}
    # read-only scope: writes refused before reaching upstream
    write = await as_consumer("POST", "/entities", air(9))
    assert write.status == 403
    assert (await upstream.get("/entities/urn:ngsi-ld:AirQualityObserved:009")).status == 404
    sub = await as_consumer("POST", "/subscriptions", subscription("http://127.0.0.1:9/n"))
    assert sub.status == 403
    types = await as_consumer("GET", "/types")
    assert types.status == 403


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_upstream_is_502_and_slow_upstream_504(tmp_path: Path) -> None:
    lite = f"sqlite+aiosqlite:///{tmp_path / 'p.db'}"
    down = make_participant(
        tmp_path,
        lite,
        {"mode": "proxy", "upstream": f"http://127.0.0.1:{_closed_port()}/ngsi-ld/v1"},
    )
    async with serving(down) as proxy:
        reply = await proxy.get("/entities", type="AirQualityObserved")
        assert reply.status == 502
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.body["status"] == 502

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(3)
        return web.json_response([])

    app = web.Application()
    app.router.add_get("/ngsi-ld/v1/entities", slow)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    try:
        lite2 = f"sqlite+aiosqlite:///{tmp_path / 'p2.db'}"
        slow_dir = make_participant(
            tmp_path,
            lite2,
            {"mode": "proxy", "upstream": f"http://127.0.0.1:{port}/ngsi-ld/v1", "timeout_s": 0.3},
        )
        async with serving(slow_dir) as proxy:
            reply = await proxy.get("/entities", type="AirQualityObserved")
            assert reply.status == 504
            assert reply.body["title"] == "Gateway Timeout"
    finally:
        await runner.cleanup()


async def test_upstream_that_stops_becomes_502(tmp_path: Path) -> None:
    lite = f"sqlite+aiosqlite:///{tmp_path / 'up.db'}"
    upstream_dir = make_participant(tmp_path, lite)
    async with serving(upstream_dir) as upstream:
        proxy_dir = make_participant(
            tmp_path,
            f"sqlite+aiosqlite:///{tmp_path / 'px.db'}",
            {"mode": "proxy", "upstream": upstream.url, "upstream_token": upstream.admin_key},
        )
        async with serving(proxy_dir) as proxy:
            assert (await proxy.post("/entities", air(1))).status == 201
            await upstream.connector.stop()
            reply = await proxy.get(f"/entities/{S1}")
            assert reply.status == 502
