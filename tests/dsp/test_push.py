"""PUSH transfers: the provider's subscription notifies the consumer's endpoint under the
agreement; suspension pauses it, termination deletes it, a refused endpoint creates nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select

from connector.dsp import messages as m
from connector.dsp.tables import transfers
from connector.dsp.validation import validate
from connector.enforcement.push import subscription_id
from connector.enforcement.tables import subscriptions as bindings
from connector.ngsild.subscriptions.tables import subscriptions
from tests.dsp.helpers import Node, negotiate, running_pair, signed, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

NGSI_LD = "https://uri.etsi.org/ngsi-ld/v1"
AIR = "urn:ngsi-ld:AirQualityObserved:push-"
#: NO2 and location only, of AirQualityObserved only
NARROW = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "ngsi-ld:entityType",
                    "operator": "isPartOf",
                    "rightOperand": ["AirQualityObserved"],
                },
                {
                    "leftOperand": "ngsi-ld:attribute",
                    "operator": "isPartOf",
                    "rightOperand": ["NO2", "location"],
                },
            ],
        }
    ]
}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Node, Node]]:
    """(provider, consumer); one notification worker, so notifications arrive in change order."""
    root = tmp_path_factory.mktemp("dsp-push")
    extra = {"ngsild": {"notification_workers": 1}}
    async with running_pair(root, extra) as nodes:
        yield nodes


class Receiver:
    """The consumer's notification endpoint: a small HTTP server on loopback."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[tuple[dict[str, Any], str | None]] = asyncio.Queue()
        self.runner: web.AppRunner | None = None
        self.uri = ""

    async def __aenter__(self) -> Receiver:
        async def notify(request: web.Request) -> web.Response:
            await self.received.put((await request.json(), request.headers.get("Authorization")))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/notify", notify)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.uri = f"http://127.0.0.1:{port}/notify"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    async def next_with(self, entity_id: str, no2: int) -> list[dict[str, Any]]:
        """Notifications up to (including) the one carrying NO2 = ``no2`` for ``entity_id``."""
        seen: list[dict[str, Any]] = []
        while True:
            note, auth = await asyncio.wait_for(self.received.get(), 20)
            assert auth == "Bearer consumer-secret"
            seen.append(note)
            for entity in note["data"]:
                if entity["id"] == entity_id and entity.get("NO2", {}).get("value") == no2:
                    return seen


async def upsert(city: Node, entity_id: str, no2: int) -> None:
    entity = {
        "id": entity_id,
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": no2},
        "PM10": {"type": "Property", "value": 99},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-1.1, 38]}},
    }
    async with city.http.post(
        city.url + "/ngsi-ld/v1/entityOperations/upsert",
        json=[entity],
        headers={"Authorization": f"Bearer {city.admin_key}"},
    ) as resp:
        assert resp.status in (201, 204), await resp.text()


async def subscription(city: Node, sub_id: str) -> tuple[int, Any]:
    async with city.http.get(
        f"{city.url}/ngsi-ld/v1/subscriptions/{sub_id}",
        headers={"Authorization": f"Bearer {city.admin_key}"},
    ) as resp:
        return resp.status, await resp.json()


async def count(node: Node, column: Any, value: str) -> int:
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        found = await conn.execute(select(func.count()).where(column == value))
        return int(found.scalar_one())


async def start_push(city: Node, company: Node, uri: str) -> tuple[dict, dict]:
    mine, _ = await negotiate(city, company, NARROW)
    address = m.data_address(NGSI_LD, uri, {"authorization": "Bearer consumer-secret"})
    status, tr = await company.admin(
        "POST",
        "/transfers",
        {"agreementId": mine["agreementId"], "format": "NGSI-LD-PUSH", "dataAddress": address},
    )
    assert status == 201, tr
    consumer = await wait_for(company.transfer, tr["id"], {"STARTED"}, field="providerPid")
    provider = await wait_for(city.transfer, consumer["providerPid"], {"STARTED"})
    return consumer, provider


async def test_push_notifies_only_permitted_attributes_and_follows_the_transfer(
    nodes: tuple[Node, Node],
) -> None:
    city, company = nodes
    async with Receiver() as receiver:
        consumer, provider = await start_push(city, company, receiver.uri)
        sub_id = subscription_id(provider["id"])
        status, sub = await subscription(city, sub_id)
        assert status == 200 and sub["status"] == "active", sub
        assert sub["notification"]["endpoint"]["uri"] == receiver.uri

        await upsert(city, AIR + "1", 41)
        [*_, note] = await receiver.next_with(AIR + "1", 41)
        assert note["type"] == "Notification" and note["subscriptionId"] == sub_id
        [entity] = [e for e in note["data"] if e["id"] == AIR + "1"]
        assert set(entity) == {"id", "type", "NO2", "location"}  # PM10 is not in the agreement

        # suspension pauses the subscription at once: a change is not notified
        status, body = await company.admin("POST", f"/transfers/{consumer['id']}/suspend")
        assert status == 200, body
        await wait_for(city.transfer, provider["id"], {"SUSPENDED"})
        status, sub = await subscription(city, sub_id)
        assert sub["status"] == "paused"
        await upsert(city, AIR + "1", 42)

        # resuming re-activates it; with one worker, a notification of the change made while
        # suspended would have arrived before the next one
        status, body = await company.admin("POST", f"/transfers/{consumer['id']}/resume")
        assert status == 200, body
        await wait_for(city.transfer, provider["id"], {"STARTED"})
        status, sub = await subscription(city, sub_id)
        assert sub["status"] == "active"
        await upsert(city, AIR + "1", 43)
        notes = await receiver.next_with(AIR + "1", 43)
        values = [e.get("NO2", {}).get("value") for n in notes for e in n["data"]]
        assert 42 not in values

        # termination deletes the subscription and its binding to the agreement
        status, body = await company.admin("POST", f"/transfers/{consumer['id']}/terminate")
        assert status == 200, body
        await wait_for(city.transfer, provider["id"], {"TERMINATED"})
        status, _ = await subscription(city, sub_id)
        assert status == 404
        assert await count(city, bindings.c.subscription_id, sub_id) == 0


async def test_provider_side_suspension_and_completion(nodes: tuple[Node, Node]) -> None:
    city, company = nodes
    async with Receiver() as receiver:
        consumer, provider = await start_push(city, company, receiver.uri)
        sub_id = subscription_id(provider["id"])
        status, body = await city.admin("POST", f"/transfers/{provider['id']}/suspend")
        assert status == 200, body
        assert (await subscription(city, sub_id))[1]["status"] == "paused"
        await wait_for(company.transfer, consumer["id"], {"SUSPENDED"})
        status, body = await city.admin("POST", f"/transfers/{provider['id']}/resume")
        assert status == 200, body
        assert (await subscription(city, sub_id))[1]["status"] == "active"
        await wait_for(company.transfer, consumer["id"], {"STARTED"})
        status, body = await city.admin("POST", f"/transfers/{provider['id']}/complete")
        assert status == 200, body
        assert (await subscription(city, sub_id))[0] == 404


async def refused_push(
    city: Node, company: Node, agreement_id: str, consumer_pid: str, endpoint: str
) -> Any:
    """The consumer asks for a PUSH transfer straight over DSP; the provider must refuse (400)
    and this returns the TransferError it answered."""
    msg = m.transfer_request(
        consumer_pid,
        agreement_id,
        "NGSI-LD-PUSH",
        company.dsp_url,
        m.data_address(NGSI_LD, endpoint),
    )
    status, body = await signed(company, city, "POST", "/transfers/request", msg)
    assert status == 400, body
    return body


async def test_a_refused_endpoint_creates_nothing(nodes: tuple[Node, Node]) -> None:
    city, company = nodes
    mine, _ = await negotiate(city, company, NARROW)
    before = await count(city, subscriptions.c.owner, company.did)
    body = await refused_push(
        city, company, mine["agreementId"], "urn:uuid:push-evil", "http://10.0.0.1:8080/notify"
    )
    validate("TransferError", body)
    assert body["code"] == "CallbackAddressRefused"
    assert await count(city, transfers.c.consumer_pid, "urn:uuid:push-evil") == 0
    assert await count(city, subscriptions.c.owner, company.did) == before


async def test_an_agreement_leaving_nothing_to_read_cannot_push(nodes: tuple[Node, Node]) -> None:
    city, company = nodes
    parking_only = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": "ngsi-ld:entityType",
                        "operator": "isPartOf",
                        "rightOperand": ["ParkingSpot"],
                    }
                ],
            }
        ]
    }
    mine, _ = await negotiate(city, company, parking_only)  # the dataset is AirQualityObserved
    assert mine["state"] == "FINALIZED", mine
    body = await refused_push(
        city, company, mine["agreementId"], "urn:uuid:push-noread", "http://127.0.0.1:9/notify"
    )
    validate("TransferError", body)
    assert body["code"] == "PushRefused" and "entity type" in body["reason"][0]
    assert await count(city, transfers.c.consumer_pid, "urn:uuid:push-noread") == 0
