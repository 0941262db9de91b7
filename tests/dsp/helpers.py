"""Two running connectors and the calls the DSP tests make between them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import insert, select

from connector.config import load_settings
from connector.dsp.runtime import Dsp, now
from connector.dsp.tables import agreements, negotiations, transfers
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector

OPEN_POLICY = {"permission": [{"action": "use"}]}


@dataclass
class Node:
    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def dsp_url(self) -> str:
        return self.url + "/dsp"

    @property
    def did(self) -> str:
        return self.connector.settings.did

    @property
    def dsp(self) -> Dsp:
        assert self.connector.ctx is not None
        found: Dsp = self.connector.ctx.components["dsp"]
        return found

    async def admin(self, method: str, path: str, json_body: Any = None) -> tuple[int, Any]:
        async with self.http.request(
            method,
            self.url + "/api/v1" + path,
            json=json_body,
            headers={"Authorization": f"Bearer {self.admin_key}"},
        ) as resp:
            body = await resp.read()
            return resp.status, json.loads(body) if body else None

    async def negotiation(self, pid: str) -> dict[str, Any]:
        status, body = await self.admin("GET", f"/negotiations/{pid}")
        assert status == 200, body
        return dict(body)

    async def transfer(self, pid: str) -> dict[str, Any]:
        status, body = await self.admin("GET", f"/transfers/{pid}")
        assert status == 200, body
        return dict(body)

    async def publish(
        self, policy: dict[str, Any] | None = None, title: str = "Air quality"
    ) -> tuple[str, str, dict[str, Any]]:
        """A dataset with one offer: (dataset id, offer id, catalog offer)."""
        status, ds = await self.admin(
            "POST", "/datasets", {"title": title, "entityTypes": ["AirQualityObserved"]}
        )
        assert status == 201, ds
        status, pol = await self.admin("POST", "/policies", policy or OPEN_POLICY)
        assert status == 201, pol
        status, offer = await self.admin(
            "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]}
        )
        assert status == 201, offer
        return ds["id"], offer["id"], offer["offer"]


async def start_node(
    root: Path,
    name: str,
    role: str,
    storage_url: str | None = None,
    http: aiohttp.ClientSession | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
) -> Node:
    directory = root / name
    if not (directory / "agora.toml").exists():
        init_participant(
            directory,
            name,
            role,
            port=0,
            storage_url=storage_url,
            extra_settings={"dsp": {"authentication": "self-issued"}, **(extra or {})},
            dev_mode=True,
        )
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    assert http is not None
    return Node(connector, read_admin_key(directory), http)


@contextlib.asynccontextmanager
async def running_pair(
    root: Path, city_extra: dict[str, dict[str, Any]] | None = None
) -> AsyncIterator[tuple[Node, Node]]:
    """(provider, consumer): a city and a company connector on loopback, SQLite storage."""
    async with aiohttp.ClientSession() as http:
        city = await start_node(root, "city", "city", http=http, extra=city_extra)
        company = await start_node(root, "company", "company", http=http)
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()


async def signed(
    sender: Node,
    receiver: Node,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """A DSP call from ``sender``'s identity (a fresh DCP token) to ``receiver``."""
    token = await sender.dsp.issuer.token_for(receiver.did)
    headers = {"Authorization": f"Bearer {token}"}
    kw: dict[str, Any] = (
        {"data": raw, "headers": {**headers, "Content-Type": "application/json"}}
        if raw is not None
        else {"json": body, "headers": headers}
    )
    async with sender.http.request(method, receiver.dsp_url + path, **kw) as resp:
        data = await resp.read()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data


async def wait_for(
    get: Any, pid: str, states: set[str], within: float = 10.0, field: str | None = None
) -> dict[str, Any]:
    """Poll until the process is in one of ``states`` (and ``field`` is set, if given)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found: dict[str, Any] = await get(pid)
        if found["state"] in states and (field is None or found.get(field)):
            return found
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{pid} stayed {found['state']}, wanted {states}: {found}")
        await asyncio.sleep(0.02)


async def negotiate(
    provider: Node, consumer: Node, policy: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A full consumer-initiated negotiation: (consumer view, provider view), both final."""
    dataset_id, _, offer = await provider.publish(policy)
    status, neg = await consumer.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": provider.dsp_url, "offer": offer, "target": dataset_id},
    )
    assert status == 201, neg
    mine = await wait_for(consumer.negotiation, neg["id"], {"FINALIZED", "TERMINATED"})
    theirs = await wait_for(provider.negotiation, mine["providerPid"], {"FINALIZED", "TERMINATED"})
    return mine, theirs


async def insert_negotiation(node: Node, *, role: str, state: str, peer: Node) -> dict[str, str]:
    """A negotiation row in ``state`` with ``peer``, straight into ``node``'s database."""
    pid, other = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    provider_pid, consumer_pid = (pid, other) if role == "provider" else (other, pid)
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.begin() as conn:
        await conn.execute(
            insert(negotiations).values(
                pid=pid,
                role=role,
                provider_pid=provider_pid,
                consumer_pid=consumer_pid,
                state=state,
                counterparty_did=peer.did,
                counterparty_address=peer.dsp_url,
                dataset_id="urn:uuid:ds",
                offer=json.dumps({"@id": "urn:uuid:o", "@type": "Offer", **OPEN_POLICY}),
                created_at=now(),
                updated_at=now(),
            )
        )
    return {"pid": pid, "providerPid": provider_pid, "consumerPid": consumer_pid}


async def insert_transfer(
    node: Node, *, role: str, state: str, peer: Node, fmt: str = "NGSI-LD-PULL"
) -> dict[str, str]:
    pid, other = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    provider_pid, consumer_pid = (pid, other) if role == "provider" else (other, pid)
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.begin() as conn:
        await conn.execute(
            insert(transfers).values(
                pid=pid,
                role=role,
                provider_pid=provider_pid,
                consumer_pid=consumer_pid,
                state=state,
                agreement_id="urn:uuid:agreement",
                format=fmt,
                counterparty_did=peer.did,
                counterparty_address=peer.dsp_url,
                created_at=now(),
                updated_at=now(),
            )
        )
    return {"pid": pid, "providerPid": provider_pid, "consumerPid": consumer_pid}


async def db_state(node: Node, table: Any, pid: str) -> str:
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        return str(
            (await conn.execute(select(table.c.state).where(table.c.pid == pid))).scalar_one()
        )


async def count_agreements(node: Node) -> int:
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        return len((await conn.execute(select(agreements.c.id))).all())
