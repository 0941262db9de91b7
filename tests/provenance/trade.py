"""A city and a company that negotiated, transferred and pulled data: both ledgers populated."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from connector.dsp import messages as m
from connector.provenance.component import Provenance
from ledger.signing import KeySigner, PublicKey
from ledger.store import Entry
from tests.dsp.helpers import Node, negotiate, start_node, wait_for

AIR = [
    {
        "id": f"urn:ngsi-ld:AirQualityObserved:{n:03d}",
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": 40 + n},
    }
    for n in range(1, 4)
]


def provenance(node: Node) -> Provenance:
    assert node.connector.ctx is not None
    found: Provenance = node.connector.ctx.components["provenance"]
    return found


@dataclass
class Trade:
    city: Node
    company: Node
    agreement_id: str
    token: str
    endpoint: str

    async def pull(self, entity_type: str = "AirQualityObserved") -> int:
        async with self.company.http.get(
            self.endpoint + "/entities",
            params={"type": entity_type},
            headers={"Authorization": f"Bearer {self.token}"},
        ) as resp:
            await resp.read()
            return resp.status

    async def settle(self) -> None:
        """Until both connectors owe each other nothing (two rounds: receipts follow copies)."""
        for _ in range(3):
            for node in (self.city, self.company):
                assert await provenance(node).exchange.settled(20.0)  # type: ignore[union-attr]

    async def stop(self) -> None:
        await self.company.connector.stop()
        await self.city.connector.stop()


async def seed(node: Node, entities: list[dict[str, Any]]) -> None:
    async with node.http.post(
        node.url + "/ngsi-ld/v1/entityOperations/upsert",
        data=json.dumps(entities),
        headers={"Authorization": f"Bearer {node.admin_key}", "Content-Type": "application/json"},
    ) as resp:
        assert resp.status in (201, 204), await resp.text()


async def start_trade(
    root: Path, http: aiohttp.ClientSession, pulls: int = 2, city_storage: str | None = None
) -> Trade:
    city = await start_node(root, "city", "city", storage_url=city_storage, http=http)
    company = await start_node(root, "company", "company", http=http)
    await seed(city, AIR)
    mine, _ = await negotiate(city, company)
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": mine["agreementId"], "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    consumer = await wait_for(company.transfer, tr["id"], {"STARTED"}, field="providerPid")
    await wait_for(city.transfer, consumer["providerPid"], {"STARTED"})
    address = consumer["dataAddress"]
    trade = Trade(
        city,
        company,
        mine["agreementId"],
        m.endpoint_properties(address)["authorization"],
        address["endpoint"],
    )
    for _ in range(pulls):
        assert await trade.pull() == 200
    await trade.settle()
    return trade


def public_key(node: Node) -> PublicKey:
    signer = provenance(node).ledger.signer
    assert isinstance(signer, KeySigner)
    return signer.public_key()


async def agreement_entries(node: Node, agreement_id: str) -> list[Entry]:
    ledger = provenance(node).ledger
    return [await ledger.entry(i) for i in await ledger.store.indices_for_agreement(agreement_id)]
