"""The consumer keeps each transfer's endpoint data reference current: the provider's token is
renewed through its refresh endpoint before it expires, and the management API serves the
current endpoint and token (the consumer's applications never refresh themselves)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from connector.dsp import messages as m
from tests.dsp.helpers import Node, negotiate, start_node, wait_for
from tests.dsp_peers.peer import Peer, msg
from tests.dsp_peers.test_agora_consumer import (
    agreement_for,
    finalized,
    requested,
    send_agreement,
)

pytestmark = pytest.mark.asyncio(loop_scope="package")


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def consumer(
    tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession
) -> AsyncIterator[Node]:
    """Agora whose background pass looks for tokens to renew often."""
    node = await start_node(
        tmp_path_factory.mktemp("edr"),
        "company",
        "company",
        http=http,
        extra={"dsp": {"authentication": "self-issued", "edr_refresh_interval_s": 0.05}},
    )
    try:
        yield node
    finally:
        await node.connector.stop()


async def started(agora: Node, peer: Peer, **props: str) -> tuple[str, str]:
    """A transfer the peer started with a token ``token-0`` and ``props``: (ours, theirs)."""
    cpid, ppid, _, target = await requested(agora, peer)
    agreement = agreement_for(peer, agora, target)
    status, doc = await send_agreement(agora, peer, cpid, ppid, agreement)
    assert status == 200, doc
    await finalized(agora, peer, cpid, ppid)
    status, tr = await agora.admin(
        "POST", "/transfers", {"agreementId": agreement["@id"], "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    request = await peer.next_message("TransferRequestMessage", consumerPid=tr["id"])
    tppid = request["providerPid"]
    await wait_for(agora.transfer, tr["id"], {"REQUESTED"}, field="providerPid")
    props = {k: v.replace("{pid}", tppid) for k, v in props.items()}
    start = msg(
        "TransferStartMessage",
        providerPid=tppid,
        consumerPid=tr["id"],
        dataAddress=peer.data_address("token-0", **props),
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/{tr['id']}/start", start, audience=agora.did
    )
    assert status == 200, doc
    return tr["id"], tppid


def token_calls(peer: Peer, tppid: str) -> list[str]:
    return [
        r.headers.get("Authorization", "")
        for r in peer.received
        if r.path == f"/dsp/transfers/{tppid}/token"
    ]


async def test_a_token_about_to_expire_is_renewed_in_the_background(
    consumer: Node, peer: Peer
) -> None:
    pid, tppid = await started(
        consumer, peer, expiresIn="2", refreshEndpoint=peer.dsp_url + "/transfers/{pid}/token"
    )
    # nobody asks: the connector renews by itself, through the DSP refresh endpoint, with
    # its DCP token for the provider
    for _ in range(500):
        if token_calls(peer, tppid):
            break
        await asyncio.sleep(0.02)
    calls = token_calls(peer, tppid)
    assert calls and calls[0].startswith("Bearer ey"), calls
    status, edr = await consumer.admin("GET", f"/transfers/{pid}/edr")
    assert status == 200, edr
    assert edr["authorization"].startswith("token-") and edr["authorization"] != "token-0"
    assert edr["endpoint"] == peer.url + "/data" and edr["expiresAt"]
    # the transfer's data address is the renewed one too
    address = (await consumer.transfer(pid))["dataAddress"]
    assert m.endpoint_properties(address)["authorization"] == edr["authorization"]


async def test_an_oauth_refresh_token_is_used_where_the_provider_gives_one(
    consumer: Node, peer: Peer
) -> None:
    pid, _ = await started(
        consumer,
        peer,
        expiresIn="600",
        refreshEndpoint=peer.url + "/oauth/token",
        refreshToken="refresh-0",
    )
    before = len(peer.oauth)
    status, edr = await consumer.admin("POST", f"/transfers/{pid}/edr/refresh")
    assert status == 200, edr
    grant = peer.oauth[before]
    assert grant.body == {"grant_type": "refresh_token", "refresh_token": "refresh-0"}
    assert grant.headers["Authorization"] == "Bearer token-0"
    status, again = await consumer.admin("GET", f"/transfers/{pid}/edr")
    assert again["authorization"] == edr["authorization"] != "token-0"
    props = m.endpoint_properties((await consumer.transfer(pid))["dataAddress"])
    assert props["refreshToken"] == f"refresh-{peer.issued}"


async def test_a_refresh_endpoint_off_the_allowed_hosts_is_not_called(
    consumer: Node, peer: Peer
) -> None:
    pid, _ = await started(
        consumer, peer, expiresIn="600", refreshEndpoint="http://192.0.2.1/token"
    )
    status, body = await consumer.admin("POST", f"/transfers/{pid}/edr/refresh")
    assert status == 502, body
    status, edr = await consumer.admin("GET", f"/transfers/{pid}/edr")
    assert status == 200 and edr["authorization"] == "token-0", edr


async def test_bad_edr_calls(consumer: Node, peer: Peer) -> None:
    status, body = await consumer.admin("GET", "/transfers/urn:uuid:nothing/edr")
    assert status == 404, body


async def test_between_two_agora_connectors(
    agora: Node, consumer: Node, http: aiohttp.ClientSession
) -> None:
    """The package's Agora as provider, this module's as consumer: Agora's own refresh."""
    mine, _ = await negotiate(agora, consumer)
    status, tr = await consumer.admin(
        "POST", "/transfers", {"agreementId": mine["agreementId"], "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    await wait_for(consumer.transfer, tr["id"], {"STARTED"}, field="dataAddress")
    status, first = await consumer.admin("GET", f"/transfers/{tr['id']}/edr")
    assert status == 200, first
    status, renewed = await consumer.admin("POST", f"/transfers/{tr['id']}/edr/refresh")
    assert status == 200, renewed
    assert renewed["authorization"] != first["authorization"]
    async with http.get(
        renewed["endpoint"] + "/entities",
        params={"type": "AirQualityObserved"},
        headers={"Authorization": f"Bearer {renewed['authorization']}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
