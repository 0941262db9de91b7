"""Negotiated over DSP, pulled through the consumer's connector, deleted at the duty's deadline."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.enforcement.flow import publish_and_start
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.enforcement.helpers import MURCIA, Provider, air, c, narrowed_policy, parking


class Pair:
    def __init__(self, city: Provider, company: Provider) -> None:
        self.city = city
        self.company = company

    async def call(self, who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        node = self.city if who == "provider" else self.company
        async with node.http.request(
            method,
            node.url + path,
            json=body,
            headers={"Authorization": f"Bearer {node.admin_key}"},
        ) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw) if raw else None


@pytest.fixture
async def pair(participant_dir: Callable[..., Path]) -> AsyncIterator[Pair]:
    # DSP authenticates peers by their self-issued ID tokens only: membership credentials are
    # the trust component's tests' business, not this one's.
    dev = {"dsp": {"authentication": "self-issued"}}
    city_dir = participant_dir(name="City of Murcia", role="city", extra_settings=dev)
    company_dir = participant_dir(name="Movilidad Sostenible", role="company", extra_settings=dev)
    city = Connector(load_settings(city_dir, env={}))
    company = Connector(load_settings(company_dir, env={}))
    await city.start()
    await company.start()
    try:
        async with aiohttp.ClientSession() as http:
            p = Pair(
                Provider(city, read_admin_key(city_dir), http),
                Provider(company, read_admin_key(company_dir), http),
            )
            await p.city.seed([air(n) for n in range(1, 4)] + [parking(1)])
            yield p
    finally:
        await company.stop()
        await city.stop()


async def test_pull_through_the_consumer_then_delete_at_the_deadline(pair: Pair) -> None:
    delete = {
        "action": "delete",
        "constraint": [
            c("elapsedTime", "lteq", {"@value": "PT3S", "@type": "xsd:duration"}),
        ],
    }
    policy = narrowed_policy(
        c("count", "lteq", {"@value": "2", "@type": "xsd:integer"}), duties=[delete]
    )
    started = await publish_and_start(
        pair.call,
        pair.city.url + "/dsp",
        {"title": "Air quality", "entityTypes": ["AirQualityObserved"], "area": MURCIA},
        policy,
    )
    assert started.endpoint == pair.city.url + "/ngsi-ld/v1"
    pull = f"/api/v1/pull/{started.transfer_id}/entities?type=AirQualityObserved"
    status, body = await pair.call("consumer", "GET", pull)
    assert status == 200, body
    assert len(body) == 3 and all(set(e) <= {"id", "type", "NO2", "location"} for e in body)
    status, body = await pair.call(
        "consumer", "GET", f"/api/v1/pull/{started.transfer_id}/entities?type=ParkingSpot"
    )
    assert status == 403 and "ParkingSpot is not part of it" in body["detail"]
    status, _ = await pair.call("consumer", "GET", pull)
    assert status == 200
    status, body = await pair.call("consumer", "GET", pull)
    assert status == 403 and "2 were used" in body["detail"]

    status, received = await pair.call("consumer", "GET", "/api/v1/received")
    assert status == 200 and len(received) == 2
    assert received[0]["agreementId"] == started.agreement_id
    assert received[0]["deleteAt"] is not None
    # kept until the deadline (a machine slower than 3 s per four calls may be past it)
    assert received[0]["stored"] or received[0]["deletedAt"]
    assert len(received[0]["entityIds"]) == 3

    deadline = time.monotonic() + 60  # the deletion job runs at the deadline (3 s after receipt)
    while not all(r["deletedAt"] for r in received) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        status, received = await pair.call("consumer", "GET", "/api/v1/received")
    assert all(r["deletedAt"] and not r["stored"] for r in received)
    status, ledger = await pair.call(
        "consumer", "GET", f"/api/v1/ledger/records?agreement={started.agreement_id}"
    )
    duties = [r["record"] for r in ledger["records"] if r["record"]["kind"] == "duty"]
    assert [(d["action"], d["decision"]) for d in duties] == [("delete", "fulfilled")] * 2
    assert duties[0]["provider"] == pair.city.ctx.settings.did
    assert duties[0]["consumer"] == pair.company.ctx.settings.did
    # the provider logged each access (3 permits, 1 denial with the type, 1 with the count)
    status, ledger = await pair.call(
        "provider", "GET", f"/api/v1/ledger/records?agreement={started.agreement_id}"
    )
    access = [r["record"]["decision"] for r in ledger["records"] if r["record"]["kind"] == "access"]
    assert access == ["permit", "deny", "permit", "deny"]


async def test_pull_of_an_unknown_transfer_is_404(pair: Pair) -> None:
    status, body = await pair.call("consumer", "GET", "/api/v1/pull/urn:uuid:nope/entities")
    assert status == 404, body
