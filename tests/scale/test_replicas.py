"""Three `agora serve` replicas on one PostgreSQL database stay exact under load.

One set of processes for the module: a city served by three replicas (one public URL, one
DID, one database created for this module) and a company on its own SQLite file. The company
negotiates over DSP for real; this process then plays its application, spreading requests
over the three replicas, and plays the peers the city talks to (a notification receiver, a
DSP peer for outbox messages, a member catalog the crawler fetches).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select

from connector.dsp import messages as m
from connector.dsp.outbox import enqueue
from connector.dsp.tables import outbox
from connector.enforcement.flow import Started, publish_and_start
from connector.participant import init_participant, read_admin_key
from connector.storage import create_engine, upgrade
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _admin_execute, _require_postgres
from tests.scale.replicas import Replicas, free_port

# the module's processes start once, in the first test's time: four `agora serve` on a
# shared 2-core machine may take more than the suite's default 120 s to come up
pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(360)]

MEMBER_DID = "did:web:member.example"
COUNT_LIMIT = 50
REQUESTS = 200
QUERY = {"type": "AirQualityObserved"}
POLICY = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "ngsi-ld:entityType",
                    "operator": "isPartOf",
                    "rightOperand": ["AirQualityObserved"],
                },
                {"leftOperand": "count", "operator": "lteq", "rightOperand": COUNT_LIMIT},
            ],
        }
    ]
}


def air(n: int, no2: int = 45) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{n:04d}",
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": no2},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [-1.13, 37.98]},
        },
    }


@dataclass
class Peers:
    """The parties the city reaches out to, all in this process on one loopback port."""

    port: int = 0
    notifications: list[dict[str, Any]] = field(default_factory=list)
    outbox_received: list[str] = field(default_factory=list)
    crawls: int = 0
    crawling: int = 0
    most_crawling_at_once: int = 0
    runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def notify(self, request: web.Request) -> web.Response:
        self.notifications.append(json.loads(await request.read()))
        return web.Response(status=204)

    async def dsp_termination(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read())
        self.outbox_received.append(str(body.get("code")))
        return web.Response(status=200)

    async def catalog(self, request: web.Request) -> web.Response:
        """A member's DSP catalog that takes a while to answer, so overlapping crawls show."""
        self.crawls += 1
        self.crawling += 1
        self.most_crawling_at_once = max(self.most_crawling_at_once, self.crawling)
        try:
            await asyncio.sleep(0.6)
        finally:
            self.crawling -= 1
        return web.json_response(
            {
                "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
                "@id": "urn:uuid:member-catalog",
                "@type": "Catalog",
                "participantId": MEMBER_DID,
                "dataset": [],
            }
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/notify", self.notify)
        app.router.add_post("/dsp/negotiations/{pid}/termination", self.dsp_termination)
        app.router.add_post("/member/catalog/request", self.catalog)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        self.port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


@dataclass
class Space:
    city: Replicas
    city_key: str
    company_url: str
    company_key: str
    database: str
    peers: Peers
    http: aiohttp.ClientSession
    started: Started

    async def admin(
        self, replica: int, method: str, path: str, body: Any = None
    ) -> tuple[int, Any]:
        async with self.http.request(
            method,
            self.city.urls[replica] + path,
            json=body,
            headers={"Authorization": f"Bearer {self.city_key}"},
        ) as resp:
            raw = await resp.read()
            return resp.status, json.loads(raw) if raw else None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def space(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Space]:
    _require_postgres()
    name = f"agora_t_scale_{uuid.uuid4().hex[:10]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    database = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    root = tmp_path_factory.mktemp("scale")
    peers = Peers()
    await peers.start()
    city = Replicas(root / "city", [free_port() for _ in range(3)])
    init_participant(
        city.directory,
        "City of Murcia",
        "city",
        port=city.ports[0],
        storage_url=database,
        extra_settings={
            "dsp": {"authentication": "self-issued"},
            "identity": {"allow_http_hosts": ["127.0.0.1"]},
            "ngsild": {
                "notification_backoff_s": 0.05,
                "periodic_tick_s": 0.1,
                "subscription_refresh_s": 0.2,
            },
            "catalog": {
                "enabled": True,
                "registry": False,
                "nodes": [{"did": MEMBER_DID, "url": peers.base + "/member"}],
                "period_s": 1,
                "backoff_s": 1,
            },
        },
        dev_mode=True,
    )
    company_port = free_port()
    company_dir = root / "company"
    init_participant(
        company_dir,
        "Company",
        "company",
        port=company_port,
        extra_settings={"dsp": {"authentication": "self-issued"}},
        dev_mode=True,
    )
    company = Replicas(company_dir, [company_port])
    company.start()
    # 3 replicas x (pool + as many overflow) stay well below the server's max_connections,
    # which other test modules share (see docs/production-scaling.md)
    # migrate once here (the replicas would wait for each other's advisory lock to find
    # nothing to do), so that they only start
    engine = create_engine(database)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    city.start({"AGORA_STORAGE_POOL_SIZE": "8"})
    company_url = f"http://127.0.0.1:{company_port}"
    keys = {"provider": read_admin_key(city.directory), "consumer": read_admin_key(company_dir)}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=REQUESTS)) as http:
            t0 = time.perf_counter()
            await city.wait_up(http)
            print(f"replicas up in {time.perf_counter() - t0:.1f} s")
            await company.wait_up(http)
            bases = {"provider": city.urls[0], "consumer": company_url}

            async def call(who: str, method: str, path: str, body: Any) -> tuple[int, Any]:
                async with http.request(
                    method,
                    bases[who] + path,
                    json=body,
                    headers={"Authorization": f"Bearer {keys[who]}"},
                ) as resp:
                    raw = await resp.read()
                    return resp.status, json.loads(raw) if raw else None

            status, body = await call(
                "provider", "POST", "/ngsi-ld/v1/entityOperations/upsert", [air(n) for n in (1, 2)]
            )
            assert status in (201, 204), body
            started = await publish_and_start(
                call,
                city.urls[0] + "/dsp",
                {"title": "Air quality", "entityTypes": ["AirQualityObserved"]},
                POLICY,
            )
            print(f"flow done at {time.perf_counter() - t0:.1f} s")
            yield Space(
                city,
                keys["provider"],
                company_url,
                keys["consumer"],
                database,
                peers,
                http,
                started,
            )
    finally:
        city.stop()
        company.stop()
        await peers.stop()
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_a_count_limit_is_exact_over_three_replicas(space: Space) -> None:
    """200 concurrent requests spread over the replicas against a count of 50: exactly 50
    answered, and the count the city keeps says 50 — no double grant, no lost use."""
    headers = {"Authorization": f"Bearer {space.started.token}"}

    async def one(i: int) -> int:
        url = space.city.urls[i % 3] + "/ngsi-ld/v1/entities"
        async with space.http.get(url, params=QUERY, headers=headers) as resp:
            await resp.read()
            return resp.status

    statuses = Counter(await asyncio.gather(*(one(i) for i in range(REQUESTS))))
    assert statuses == {200: COUNT_LIMIT, 403: REQUESTS - COUNT_LIMIT}
    # whichever replica answers next, the agreement is used up
    for replica in range(3):
        url = space.city.urls[replica] + "/ngsi-ld/v1/entities"
        async with space.http.get(url, params=QUERY, headers=headers) as resp:
            body = await resp.json()
            assert resp.status == 403
            assert f"{COUNT_LIMIT} were used" in body["detail"]


async def test_the_ledger_has_one_sequence(space: Space) -> None:
    """After the load, the records form one gapless sequence and every replica reports the
    same tree (same size, same root) — no replica forked the log."""
    engine = create_engine(space.database)
    try:
        async with asyncio.timeout(30):
            while True:
                heads = [await space.admin(r, "GET", "/api/v1/ledger/tree-head") for r in range(3)]
                async with engine.connect() as conn:
                    from sqlalchemy import text

                    rows = (
                        await conn.execute(text("SELECT idx FROM ledger_records ORDER BY idx"))
                    ).all()
                sizes = {body["size"] for _, body in heads}
                if sizes == {len(rows)} and len(rows) >= COUNT_LIMIT:
                    break
                await asyncio.sleep(0.3)
    finally:
        await engine.dispose()
    assert [r.idx for r in rows] == list(range(len(rows)))
    assert all(status == 200 for status, _ in heads)
    assert len({body["root"] for _, body in heads}) == 1


async def test_each_notification_is_sent_once_not_once_per_replica(space: Space) -> None:
    sub = {
        "id": f"urn:ngsi-ld:Subscription:{uuid.uuid4().hex[:8]}",
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "q": "NO2>1000",
        "notification": {"endpoint": {"uri": space.peers.base + "/notify"}},
    }
    status, body = await space.admin(1, "POST", "/ngsi-ld/v1/subscriptions", sub)
    assert status == 201, body
    # wait until every replica has loaded it: a change through each one notifies
    for replica in range(3):
        async with asyncio.timeout(15):
            n = 0
            while True:
                n += 1
                before = len(space.peers.notifications)
                probe = air(100 + replica * 50 + n, no2=2000)
                status, body = await space.admin(replica, "POST", "/ngsi-ld/v1/entities", probe)
                assert status == 201, body
                await asyncio.sleep(0.3)
                if len(space.peers.notifications) > before:
                    break
    # now 30 changes of one entity, ten through each replica, each with its own value
    status, _ = await space.admin(0, "POST", "/ngsi-ld/v1/entities", air(900, no2=0))
    assert status == 201
    before = len(space.peers.notifications)
    for i in range(30):
        patch = {"NO2": {"type": "Property", "value": 1001 + i}}
        status, body = await space.admin(
            i % 3, "PATCH", "/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:0900/attrs", patch
        )
        assert status == 204, body
    async with asyncio.timeout(15):
        while len(space.peers.notifications) - before < 30:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)  # room for a duplicate to arrive, if any replica sent one
    values = [
        e["NO2"]["value"]
        for note in space.peers.notifications[before:]
        for e in note["data"]
        if e["id"].endswith(":0900")
    ]
    assert sorted(values) == list(range(1001, 1031))


async def test_the_outbox_sends_each_message_once(space: Space) -> None:
    """Messages queued in the shared database are leased: the three replicas' workers deliver
    each exactly once between them."""
    engine = create_engine(space.database)
    codes = [f"scale-{uuid.uuid4().hex[:6]}-{i}" for i in range(60)]
    try:
        async with engine.begin() as conn:
            for code in codes:
                pid = f"urn:uuid:{uuid.uuid4()}"
                await enqueue(
                    conn,
                    process_pid=pid,
                    kind="negotiation",
                    message=m.negotiation_termination(pid, f"urn:uuid:{uuid.uuid4()}", code, "x"),
                    url=f"{space.peers.base}/dsp/negotiations/{pid}/termination",
                    audience_did=MEMBER_DID,
                )
        async with asyncio.timeout(30):
            while True:
                async with engine.connect() as conn:
                    pending = await conn.scalar(
                        select(func.count()).where(outbox.c.status == "pending")
                    )
                got = [c for c in space.peers.outbox_received if c in codes]
                if pending == 0 and len(got) >= len(codes):
                    break
                await asyncio.sleep(0.2)
    finally:
        await engine.dispose()
    await asyncio.sleep(1.0)  # room for a second delivery, if a lease let one through
    got = [c for c in space.peers.outbox_received if c in codes]
    assert sorted(got) == sorted(codes)


async def test_the_crawler_runs_on_one_replica_at_a_time(space: Space) -> None:
    """Each replica runs the crawl task, but a round holds a lock in the shared database: the
    member's catalog is never fetched by two replicas at once."""
    for _ in range(150):
        if space.peers.crawls >= 4:
            break
        await asyncio.sleep(0.2)
    status, body = await space.admin(2, "GET", "/api/v1/catalog/nodes")
    assert status == 200, body
    assert space.peers.crawls >= 4, body
    assert space.peers.most_crawling_at_once == 1
