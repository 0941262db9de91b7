"""Remote @context documents: fetched only from the operator's allow-list, through the SSRF
guard, bounded in time and size, cached; everything else stays LdContextNotAvailable (503)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.ngsild.conftest import Ngsi

ERR = "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"
SENSOR_CONTEXT = {
    "@context": {
        "Sensor": "https://example.org/vocab/Sensor",
        "reading": "https://example.org/vocab/reading",
    }
}
EID = "urn:ngsi-ld:Sensor:1"


@dataclass
class ContextServer:
    """Serves contexts on loopback and counts the requests for each path."""

    base: str = ""
    hits: dict[str, int] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        if name == "slow.jsonld":  # answers only when the test is over
            await asyncio.wait_for(self.release.wait(), timeout=60)
        if name == "big.jsonld":
            terms = {f"t{i}": f"https://example.org/vocab/t{i}" for i in range(500)}
            return web.json_response({"@context": terms})
        if name == "nested.jsonld":
            url = f"{self.base}/ctx/sensor.jsonld"
            return web.json_response({"@context": [url, {"extra": "https://example.org/x"}]})
        if name == "redirect-in":
            raise web.HTTPFound("/ctx/sensor.jsonld")
        if name == "redirect-out":
            raise web.HTTPFound("/other/sensor.jsonld")
        if name == "not-json":
            return web.Response(text="<html>", content_type="text/html")
        return web.Response(text=json.dumps(SENSOR_CONTEXT), content_type="application/ld+json")


@pytest.fixture
async def contexts() -> AsyncIterator[ContextServer]:
    server = ContextServer()
    app = web.Application()
    app.router.add_get("/{dir}/{name}", server.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


@dataclass
class Broker:
    client: Ngsi

    def link(self, url: str) -> dict[str, str]:
        return {
            "Link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; '
            'type="application/ld+json"'
        }

    async def create_with(self, url: str, eid: str = EID) -> Any:
        body = {"id": eid, "type": "Sensor", "reading": {"type": "Property", "value": 1}}
        return await self.client.post("/entities", body, headers=self.link(url))


async def _broker(directory: Path, http: aiohttp.ClientSession) -> tuple[Connector, Broker]:
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    return connector, Broker(Ngsi(connector, read_admin_key(directory), http))


@pytest.fixture
async def make_broker(
    tmp_path: Path, participant_dir: Callable[..., Path]
) -> AsyncIterator[Callable[[dict[str, Any]], Any]]:
    started: list[Connector] = []
    async with aiohttp.ClientSession() as http:

        async def make(ngsild: dict[str, Any]) -> Broker:
            url = f"sqlite+aiosqlite:///{tmp_path / f'ctx{len(started)}.db'}"
            directory = participant_dir(storage_url=url, extra_settings={"ngsild": ngsild})
            connector, broker = await _broker(directory, http)
            started.append(connector)
            return broker

        try:
            yield make
        finally:
            for connector in started:
                await connector.stop()


def unavailable(reply: Any, *words: str) -> None:
    assert reply.status == 503, reply.body
    assert reply.body["type"] == ERR
    for word in words:
        assert word in reply.body["detail"], reply.body["detail"]


async def test_allowed_context_is_fetched_once_and_used(
    contexts: ContextServer, make_broker: Any
) -> None:
    b = await make_broker(
        {"context_allow": [f"{contexts.base}/ctx/"], "context_allow_loopback": True}
    )
    url = f"{contexts.base}/ctx/sensor.jsonld"
    reply = await b.create_with(url)
    assert reply.status == 201, reply.body
    # stored under the context's IRIs: read back without it, the full IRIs show
    plain = await b.client.get(f"/entities/{EID}")
    assert plain.body["type"] == "https://example.org/vocab/Sensor"
    assert plain.body["https://example.org/vocab/reading"]["value"] == 1
    # read back with it, the short names; and a query by the short type name finds it
    short = await b.client.call("GET", f"/entities/{EID}", headers=b.link(url))
    assert short.body["type"] == "Sensor" and short.body["reading"]["value"] == 1
    found = await b.client.call("GET", "/entities", headers=b.link(url), params={"type": "Sensor"})
    assert [e["id"] for e in found.body] == [EID]
    # an ld+json body naming it (and a nested remote context) works as well
    body = {
        "@context": f"{contexts.base}/ctx/nested.jsonld",
        "id": "urn:ngsi-ld:Sensor:2",
        "type": "Sensor",
        "extra": {"type": "Property", "value": 2},
    }
    reply = await b.client.post("/entities", body, ctype="application/ld+json")
    assert reply.status == 201, reply.body
    stored = (await b.client.get("/entities/urn:ngsi-ld:Sensor:2")).body
    assert stored["type"] == "https://example.org/vocab/Sensor"
    assert stored["https://example.org/x"]["value"] == 2
    # cached: one fetch however many requests named it
    assert contexts.hits["sensor.jsonld"] == 1
    # a redirect within the allow-list is followed
    assert (await b.create_with(f"{contexts.base}/ctx/redirect-in", "urn:x:3")).status == 201
    assert contexts.hits["redirect-in"] == 1 and contexts.hits["sensor.jsonld"] == 2


async def test_refused_and_failing_contexts(contexts: ContextServer, make_broker: Any) -> None:
    b = await make_broker(
        {
            "context_allow": [f"{contexts.base}/ctx/"],
            "context_allow_loopback": True,
            "context_max_bytes": 4096,
            "context_timeout_s": 0.5,
        }
    )
    # not on the allow-list: never fetched
    unavailable(await b.create_with(f"{contexts.base}/other/sensor.jsonld"), "context_allow")
    assert "sensor.jsonld" not in contexts.hits
    # too large
    unavailable(await b.create_with(f"{contexts.base}/ctx/big.jsonld"), "4096 bytes")
    # too slow
    unavailable(await b.create_with(f"{contexts.base}/ctx/slow.jsonld"), "could not be fetched")
    # a redirect leaving the allow-list is not followed
    unavailable(await b.create_with(f"{contexts.base}/ctx/redirect-out"), "not on the allow-list")
    assert "sensor.jsonld" not in contexts.hits
    # not a JSON-LD context, missing
    unavailable(await b.create_with(f"{contexts.base}/ctx/not-json"), "not JSON")
    # nothing was stored by any of these
    listed = await b.client.get("/entities", type="https://example.org/vocab/Sensor")
    assert listed.body == []


async def test_offline_by_default_and_loopback_only_when_allowed(
    contexts: ContextServer, make_broker: Any
) -> None:
    url = f"{contexts.base}/ctx/sensor.jsonld"
    offline = await make_broker({})
    unavailable(await offline.create_with(url), "neither bundled")
    # on the allow-list, but loopback addresses are not explicitly allowed: the SSRF guard
    guarded = await make_broker({"context_allow": [f"{contexts.base}/ctx/"]})
    unavailable(await guarded.create_with(url), "not allowed")
    assert contexts.hits == {}


async def test_allow_list_entries_need_a_path(
    tmp_path: Path, participant_dir: Callable[..., Path]
) -> None:
    from connector.ngsild.proxy.settings import ngsild_settings

    directory = participant_dir(extra_settings={"ngsild": {"context_allow": ["https://a.org"]}})
    with pytest.raises(Exception, match="prefix with a path"):
        ngsild_settings(load_settings(directory, env={}))


async def test_cache_is_bounded_in_size_and_time(contexts: ContextServer) -> None:
    from connector.ngsild.remote_context import RemoteContexts

    def remote(**kw: Any) -> RemoteContexts:
        return RemoteContexts(
            [f"{contexts.base}/ctx/"],
            timeout_s=5,
            max_bytes=65536,
            allow_loopback=True,
            **kw,
        )

    a, b = f"{contexts.base}/ctx/a.jsonld", f"{contexts.base}/ctx/b.jsonld"
    small = remote(cache_size=1, ttl_s=3600)
    try:
        first = await small.get(a)
        assert (await small.get(a)).serial == first.serial  # a hit
        await small.get(b)  # evicts a
        assert (await small.get(a)).serial != first.serial
        assert contexts.hits == {"a.jsonld": 2, "b.jsonld": 1}
    finally:
        await small.close()
    short = remote(cache_size=8, ttl_s=0.01)
    try:
        first = await short.get(a)
        await asyncio.sleep(0.2)  # well past the time-to-live
        assert (await short.get(a)).serial != first.serial
        assert contexts.hits["a.jsonld"] == 4
    finally:
        await short.close()


async def test_subscription_with_a_remote_context_survives_a_restart(
    contexts: ContextServer, participant_dir: Callable[..., Path], tmp_path: Path
) -> None:
    from tests.ngsild_subscriptions.support import Receiver

    ngsild = {"context_allow": [f"{contexts.base}/ctx/"], "context_allow_loopback": True}
    url = f"sqlite+aiosqlite:///{tmp_path / 'subs.db'}"
    directory = participant_dir(storage_url=url, extra_settings={"ngsild": ngsild})
    receiver = Receiver()
    await receiver.start()
    ctx_url = f"{contexts.base}/ctx/sensor.jsonld"
    sub = {
        "type": "Subscription",
        "entities": [{"type": "Sensor"}],
        "notification": {
            "endpoint": {"uri": receiver.url, "accept": "application/json"},
            "format": "keyValues",
        },
    }
    try:
        async with aiohttp.ClientSession() as http:
            connector, b = await _broker(directory, http)
            try:
                reply = await b.client.post("/subscriptions", sub, headers=b.link(ctx_url))
                assert reply.status == 201, reply.body
            finally:
                await connector.stop()
            contexts.hits.clear()  # the restarted broker must fetch it again
            connector, b = await _broker(directory, http)
            try:
                assert (await b.create_with(ctx_url)).status == 201
                [note] = await receiver.wait_for(1, within=30)
                assert note["data"][0]["id"] == EID
                assert note["data"][0]["reading"] == 1  # the subscription's own short names
                assert contexts.hits["sensor.jsonld"] == 1
            finally:
                await connector.stop()
    finally:
        await receiver.stop()
