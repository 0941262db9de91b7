"""Operator decisions where the protocol expects them (the TCK drives these states through its
connector triggers): Agora holds the process, tells the operator (queue, event stream, webhook)
and moves on only when the operator approves, declines, or the timeout policy decides."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.dsp.helpers import OPEN_POLICY, Node, start_node, wait_for
from tests.dsp_peers.peer import Peer, msg, urn
from tests.dsp_peers.test_agora_consumer import agreement_for, send_agreement

pytestmark = pytest.mark.asyncio(loop_scope="package")

ALL_MANUAL = {"agree": "manual", "finalize": "manual", "startTransfer": "manual"}


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def hook(http: aiohttp.ClientSession) -> AsyncIterator[Peer]:
    """A server standing in for the operator's webhook receiver (it records every call)."""
    found = Peer()
    await found.start(http)
    try:
        yield found
    finally:
        await found.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def manual(
    tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession, hook: Peer
) -> AsyncIterator[Node]:
    """Agora whose consumer accepts offers by itself and whose operator has a webhook."""
    decisions = {"acceptOffer": "automatic", "webhook": hook.url + "/hooks/decisions"}
    node = await start_node(
        tmp_path_factory.mktemp("manual"),
        "city",
        "city",
        http=http,
        extra={"dsp": {"authentication": "self-issued", "decisions": decisions}},
    )
    try:
        yield node
    finally:
        await node.connector.stop()


async def publish(node: Node, decisions: dict[str, str]) -> tuple[str, dict[str, Any]]:
    status, ds = await node.admin(
        "POST", "/datasets", {"title": f"ds {urn()}", "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201, ds
    status, pol = await node.admin("POST", "/policies", OPEN_POLICY)
    assert status == 201, pol
    status, offer = await node.admin(
        "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"], "decisions": decisions}
    )
    assert status == 201, offer
    assert offer["decisions"] == decisions
    return ds["id"], offer["offer"]


async def request_offer(node: Node, peer: Peer, dataset_id: str, offer: dict[str, Any]) -> str:
    """The peer requests ``offer``: Agora's providerPid."""
    body = msg(
        "ContractRequestMessage",
        consumerPid=urn(),
        offer={**offer, "target": dataset_id},
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{node.dsp_url}/negotiations/request", body, audience=node.did
    )
    assert status == 201, doc
    return str(doc["providerPid"])


async def pending(node: Node, pid: str, decision: str) -> dict[str, Any]:
    """Wait until ``pid`` is in the queue waiting for ``decision``."""
    for _ in range(500):
        status, queue = await node.admin("GET", "/decisions")
        assert status == 200, queue
        found = [d for d in queue if d["id"] == pid]
        if found and found[0]["decision"] == decision:
            return dict(found[0])
        await asyncio.sleep(0.02)
    raise AssertionError(f"{pid} never waited for {decision}: {queue}")


async def event_for(node: Node, pid: str) -> dict[str, Any]:
    """The decision stream's first event about ``pid`` (replayed or live)."""
    async with node.http.get(
        node.url + "/api/v1/decisions/events",
        headers={"Authorization": f"Bearer {node.admin_key}"},
    ) as resp:
        assert resp.status == 200 and resp.content_type == "text/event-stream"
        async for line in resp.content:
            if line.startswith(b"data: "):
                event = json.loads(line[6:])
                if event["id"] == pid:
                    return dict(event)
    raise AssertionError("the stream ended")


async def collect(node: Node, into: list[dict[str, Any]]) -> None:
    async with node.http.get(
        node.url + "/api/v1/decisions/events",
        headers={"Authorization": f"Bearer {node.admin_key}"},
    ) as resp:
        async for line in resp.content:
            if line.startswith(b"data: "):
                into.append(json.loads(line[6:]))


async def test_the_provider_waits_for_the_operator_at_each_decision(
    manual: Node, peer: Peer, hook: Peer
) -> None:
    dataset_id, offer = await publish(manual, ALL_MANUAL)
    ppid = await request_offer(manual, peer, dataset_id, offer)
    waiting = await pending(manual, ppid, "agree")
    assert waiting["state"] == "REQUESTED" and waiting["role"] == "provider"
    assert waiting["counterPartyId"] == peer.did
    # nothing was sent meanwhile
    assert not [r for r in peer.received if r.body and r.body.get("providerPid") == ppid]
    # the stream replays what waits; the webhook was called
    streamed = await asyncio.wait_for(event_for(manual, ppid), 10)
    assert streamed["decision"] == "agree"
    hooked = await hook_call(hook, ppid, "agree")
    assert hooked["type"] == "DecisionWaiting"

    status, view = await manual.admin("POST", f"/decisions/{ppid}/approve")
    assert status == 200, view
    assert view["state"] == "AGREED" and view["pendingDecision"] is None
    got = await peer.next_message("ContractAgreementMessage", providerPid=ppid)
    cpid, agreement = got["consumerPid"], got["agreement"]

    verification = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
    status, doc, _ = await peer.call(
        "POST",
        f"{manual.dsp_url}/negotiations/{ppid}/agreement/verification",
        verification,
        audience=manual.did,
    )
    assert status == 200, doc
    await pending(manual, ppid, "finalize")
    assert (await manual.negotiation(ppid))["state"] == "VERIFIED"
    status, view = await manual.admin("POST", f"/decisions/{ppid}/approve")
    assert status == 200 and view["state"] == "FINALIZED", view
    await peer.next_message("ContractNegotiationEventMessage", consumerPid=cpid)

    tcpid = urn()
    request = msg(
        "TransferRequestMessage",
        consumerPid=tcpid,
        agreementId=agreement["@id"],
        format="NGSI-LD-PULL",
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{manual.dsp_url}/transfers/request", request, audience=manual.did
    )
    assert status == 201, doc
    tppid = doc["providerPid"]
    await pending(manual, tppid, "startTransfer")
    assert (await manual.transfer(tppid))["state"] == "REQUESTED"
    status, view = await manual.admin("POST", f"/decisions/{tppid}/approve")
    assert status == 200 and view["state"] == "STARTED", view
    await peer.next_message("TransferStartMessage", consumerPid=tcpid)
    status, queue = await manual.admin("GET", "/decisions")
    assert not [d for d in queue if d["id"] in (ppid, tppid)]


async def hook_call(hook: Peer, pid: str, decision: str) -> dict[str, Any]:
    for _ in range(500):
        for got in hook.outside:
            body = got.body
            if got.path == "/hooks/decisions" and isinstance(body, dict) and body["id"] == pid:
                assert body["decision"] == decision
                return body
        await asyncio.sleep(0.02)
    raise AssertionError(f"the webhook was not called for {pid}")


async def test_a_declined_decision_terminates_the_process(manual: Node, peer: Peer) -> None:
    dataset_id, offer = await publish(manual, {"agree": "manual"})
    ppid = await request_offer(manual, peer, dataset_id, offer)
    await pending(manual, ppid, "agree")
    status, view = await manual.admin(
        "POST", f"/decisions/{ppid}/decline", {"reason": "not for you"}
    )
    assert status == 200 and view["state"] == "TERMINATED", view
    got = await peer.next_message("ContractNegotiationTerminationMessage", providerPid=ppid)
    assert got["reason"] == ["not for you"]
    status, body = await manual.admin("POST", f"/decisions/{ppid}/approve")
    assert status == 409, body  # nothing waits any more
    assert (await manual.negotiation(ppid))["state"] == "TERMINATED"


async def test_bad_decision_calls(manual: Node, peer: Peer) -> None:
    status, body = await manual.admin("POST", f"/decisions/{urn()}/approve")
    assert status == 404, body
    dataset_id, offer = await publish(manual, {"agree": "manual"})
    seen: list[dict[str, Any]] = []
    reader = asyncio.ensure_future(collect(manual, seen))  # open before the decision exists
    await asyncio.sleep(0)
    ppid = await request_offer(manual, peer, dataset_id, offer)
    await pending(manual, ppid, "agree")
    for _ in range(500):
        if any(e["id"] == ppid for e in seen):
            break
        await asyncio.sleep(0.02)
    reader.cancel()
    assert [e["decision"] for e in seen if e["id"] == ppid] == ["agree"]
    status, body = await manual.admin("POST", f"/decisions/{ppid}/approve", {"why": 1})
    assert status == 400, body
    status, body = await manual.admin("POST", f"/decisions/{ppid}/decline", {"reason": "x" * 3000})
    assert status == 400, body
    assert (await manual.negotiation(ppid))["state"] == "REQUESTED"


async def test_the_consumer_accepts_by_itself_and_verifies_when_told(
    manual: Node, peer: Peer
) -> None:
    ppid, target = urn(), urn()
    offer = msg(
        "ContractOfferMessage",
        providerPid=ppid,
        offer={"@id": urn(), "@type": "Offer", "target": target, "permission": [{"action": "use"}]},
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{manual.dsp_url}/negotiations/offers", offer, audience=manual.did
    )
    assert status == 201 and doc["state"] == "OFFERED", doc
    await peer.next_message(
        "ContractNegotiationEventMessage", providerPid=ppid, eventType="ACCEPTED"
    )
    cpid = doc["consumerPid"]
    assert (await manual.negotiation(cpid))["state"] == "ACCEPTED"

    # a consumer request that asks to verify by hand
    status, neg = await manual.admin(
        "POST",
        "/negotiations",
        {
            "counterPartyAddress": peer.dsp_url,
            "counterPartyId": peer.did,
            "offer": {"@id": urn(), "permission": [{"action": "use"}]},
            "target": target,
            "decisions": {"verify": "manual"},
        },
    )
    assert status == 201, neg
    request = await peer.next_message("ContractRequestMessage", consumerPid=neg["id"])
    await wait_for(manual.negotiation, neg["id"], {"REQUESTED"}, field="providerPid")
    status, doc = await send_agreement(
        manual, peer, neg["id"], request["providerPid"], agreement_for(peer, manual, target)
    )
    assert status == 200, doc
    await pending(manual, neg["id"], "verify")
    assert (await manual.negotiation(neg["id"]))["state"] == "AGREED"
    status, view = await manual.admin("POST", f"/decisions/{neg['id']}/approve")
    assert status == 200 and view["state"] == "VERIFIED", view
    await peer.next_message(
        "ContractAgreementVerificationMessage", providerPid=request["providerPid"]
    )


async def test_a_decision_nobody_takes_times_out(
    tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession, peer: Peer
) -> None:
    decisions = {"agree": "manual", "timeout_s": 0.2, "on_timeout": "decline"}
    node = await start_node(
        tmp_path_factory.mktemp("timeout"),
        "city",
        "city",
        http=http,
        extra={"dsp": {"authentication": "self-issued", "decisions": decisions}},
    )
    try:
        dataset_id, offer = await publish(node, {})
        ppid = await request_offer(node, peer, dataset_id, offer)
        await wait_for(node.negotiation, ppid, {"TERMINATED"})
        got = await peer.next_message("ContractNegotiationTerminationMessage", providerPid=ppid)
        assert "timed out" in got["reason"][0]
    finally:
        await node.connector.stop()
