"""Notifications of a subscription made with an access token: narrowed, counted, recorded, and
stopped the moment the transfer is suspended."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.enforcement.helpers import Provider, ledger_records, narrowed_policy

AIR = "urn:ngsi-ld:AirQualityObserved:"


async def receiver() -> tuple[web.AppRunner, str, asyncio.Queue[dict[str, Any]]]:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def notify(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/notify", notify)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/notify", received


async def admin_patch(provider: Provider, value: int) -> None:
    async with provider.http.patch(
        provider.url + f"/ngsi-ld/v1/entities/{AIR}001/attrs/NO2",
        json={"value": value},
        headers={"Authorization": f"Bearer {provider.admin_key}"},
    ) as resp:
        assert resp.status == 204, await resp.text()


async def test_notifications_follow_the_agreement(provider: Provider) -> None:
    runner, uri, received = await receiver()
    try:
        g = await provider.grant(narrowed_policy())
        subscription = {
            "type": "Subscription",
            "entities": [{"type": "AirQualityObserved"}],
            "notification": {"endpoint": {"uri": uri, "accept": "application/json"}},
        }
        status, body, _ = await g.call("POST", "/subscriptions", json=subscription)
        assert status == 201, body
        await admin_patch(provider, 77)
        note = await asyncio.wait_for(received.get(), 10)
        [entity] = [e for e in note["data"] if e["id"] == AIR + "001"]
        assert "PM10" not in entity and set(entity) <= {"id", "type", "NO2", "location"}
        records = await ledger_records(provider, g.agreement_id)
        notified = [r for r in records if r["details"]["operation"] == "notification"]
        assert notified and notified[-1]["decision"] == "permit"

        await g.set_state("SUSPENDED")
        while not received.empty():
            received.get_nowait()
        await admin_patch(provider, 78)
        await asyncio.sleep(1.0)
        assert received.empty()  # no notification while suspended
    finally:
        await runner.cleanup()
