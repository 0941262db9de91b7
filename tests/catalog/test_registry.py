"""A member's catalog crawls the members the authority's registry admits (read over HTTP),
with its own DCP credentials; a revoked member's datasets leave the catalog."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from connector.participant import init_participant
from tests.trust.conftest import TEST_IDENTITY, Node, Space


async def _crawl(node: Node) -> dict[str, dict[str, Any]]:
    status, body = await node.call("POST", "/api/v1/catalog/crawl")
    assert status == 200, body
    status, listed = await node.call("GET", "/api/v1/catalog/nodes")
    assert status == 200, listed
    assert listed["registryError"] is None, listed
    return {n["did"]: n for n in listed["nodes"]}


async def _publish(city: Node, title: str) -> str:
    status, ds = await city.call(
        "POST", "/api/v1/datasets", json={"title": title, "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201, ds
    status, pol = await city.call(
        "POST", "/api/v1/policies", json={"permission": [{"action": "use"}]}
    )
    assert status == 201, pol
    status, offer = await city.call(
        "POST", "/api/v1/offers", json={"datasetId": ds["id"], "policyId": pol["id"]}
    )
    assert status == 201, offer
    return str(ds["id"])


async def test_member_crawls_the_members_the_registry_admits(space: Space) -> None:
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    city = await space.add("city", "city")
    await space.onboard(city, authority)
    # a member with the catalog on (made before it starts: its did:web names its port)
    init_participant(
        space.root / "crawler",
        "Crawler Co",
        "company",
        port=0,
        storage_url=f"sqlite+aiosqlite:///{space.root / 'crawler' / 'agora.db'}",
        extra_settings={
            "identity": TEST_IDENTITY,
            "catalog": {"enabled": True, "crawl_on_start": False},
        },
    )
    crawler = await space.add("crawler", "company")
    await space.onboard(crawler, authority)
    dataset = await _publish(city, "Air quality Murcia")
    # on by default for the authority, which crawls too: it presents the membership
    # credential it issued itself (it is nobody's member), so the city answers it
    nodes = await _crawl(authority)
    assert nodes[city.did]["state"] == "online", nodes[city.did]["lastError"]
    assert nodes[city.did]["datasets"] == 1
    assert authority.did not in nodes
    status, found = await authority.call("GET", "/api/v1/catalog/search?q=murcia")
    assert status == 200 and [i["datasetId"] for i in found["items"]] == [dataset], found
    status, wallet = await authority.call("GET", "/api/v1/trust/credentials")
    assert status == 200, wallet
    assert sorted(c["type"] for c in wallet) == ["MembershipCredential", "ParticipantCredential"]
    assert {c["issuer"] for c in wallet} == {authority.did}
    await _crawl(authority)  # a later round keeps the ones it holds
    status, again = await authority.call("GET", "/api/v1/trust/credentials")
    assert [c["id"] for c in again] == [c["id"] for c in wallet]

    # the member reads the authority's registry over HTTP and crawls with its own credential
    nodes = await _crawl(crawler)
    assert nodes[city.did]["state"] == "online", nodes[city.did]["lastError"]
    assert nodes[city.did]["datasets"] == 1
    assert crawler.did not in nodes
    status, found = await crawler.call("GET", "/api/v1/catalog/search?q=air%20quality")
    assert status == 200 and [i["datasetId"] for i in found["items"]] == [dataset]

    # revoked: no longer admitted, so no longer crawled nor found
    status, body = await authority.call(
        "POST", f"/api/v1/authority/members/{quote(city.did, safe='')}/revoke"
    )
    assert status == 200, body
    nodes = await _crawl(crawler)
    assert city.did not in nodes
    status, found = await crawler.call("GET", "/api/v1/catalog/search?q=air")
    assert status == 200 and found["total"] == 0
