"""Agora as provider, the other vendor as consumer (the TCK's MET, CAT, CN and TP areas): the
consumer's side is scripted in the test, Agora publishes through its management API."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from connector.dsp.validation import validate
from tests.dsp.helpers import Node, wait_for
from tests.dsp_peers.peer import Peer, msg, urn

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def catalog_offer(
    agora: Node, peer: Peer, dataset_id: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Agora publishes a dataset (unless given one it offers); the peer finds it in the
    catalog: (dataset id, offer)."""
    if dataset_id is None:
        dataset_id, _, _ = await agora.publish(title=f"ds {urn()}")
    status, catalog, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/catalog/request?limit=200",  # the package's agora has many
        msg("CatalogRequestMessage"),
        audience=agora.did,
    )
    assert status == 200, catalog
    datasets = catalog.get("dataset", [])
    datasets = datasets if isinstance(datasets, list) else [datasets]
    found = next(d for d in datasets if d["@id"] == dataset_id)
    policy = found["hasPolicy"]
    return dataset_id, policy[0] if isinstance(policy, list) else policy


async def agreed(
    agora: Node, peer: Peer, dataset_id: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """The peer requests an offer and receives Agora's agreement: (cpid, ppid, agreement)."""
    dataset_id, offer = await catalog_offer(agora, peer, dataset_id)
    cpid = urn()
    request = msg(
        "ContractRequestMessage",
        consumerPid=cpid,
        offer={**offer, "target": dataset_id},
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/request", request, audience=agora.did
    )
    assert status == 201, doc
    assert doc["consumerPid"] == cpid and doc["state"] == "REQUESTED"
    got = await peer.next_message("ContractAgreementMessage", consumerPid=cpid)
    assert got["providerPid"] == doc["providerPid"]
    agreement = got["agreement"]
    assert agreement["assignee"] == peer.did and agreement["target"] == dataset_id
    return cpid, doc["providerPid"], agreement


async def test_the_version_endpoint_needs_no_token(agora: Node, peer: Peer) -> None:
    status, doc, _ = await peer.call("GET", agora.url + "/.well-known/dspace-version", token=None)
    assert status == 200, doc
    assert any(v["version"] == "2025-1" for v in doc["protocolVersions"])


async def test_a_standard_consumer_negotiates_and_pulls(agora: Node, peer: Peer) -> None:
    cpid, ppid, agreement = await agreed(agora, peer)
    verification = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
    status, doc, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification",
        verification,
        audience=agora.did,
    )
    assert status == 200, doc
    await peer.next_message(
        "ContractNegotiationEventMessage", consumerPid=cpid, eventType="FINALIZED"
    )
    await wait_for(agora.negotiation, ppid, {"FINALIZED"})
    tcpid = urn()
    request = msg(
        "TransferRequestMessage",
        consumerPid=tcpid,
        agreementId=agreement["@id"],
        format="NGSI-LD-PULL",
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/request", request, audience=agora.did
    )
    assert status == 201, doc
    tppid = doc["providerPid"]
    start = await peer.next_message("TransferStartMessage", consumerPid=tcpid)
    props = {p["name"]: p["value"] for p in start["dataAddress"]["endpointProperties"]}
    async with peer.http.get(  # type: ignore[union-attr]
        start["dataAddress"]["endpoint"] + "/entities",
        params={"type": "AirQualityObserved"},
        headers={"Authorization": f"Bearer {props['authorization']}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
    completion = msg("TransferCompletionMessage", providerPid=tppid, consumerPid=tcpid)
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/{tppid}/completion", completion, audience=agora.did
    )
    assert status == 200, doc
    assert (await agora.transfer(tppid))["state"] == "COMPLETED"
    provenance = agora.connector.ctx.components["provenance"]  # type: ignore[union-attr]
    assert await provenance.exchange.settled(20.0)
    # the provider logged the pull and the agreement, but sent no receipt to a peer that
    # advertises no receipt exchange: nothing arrived outside the peer's DSP base path
    assert await provenance.ledger.store.indices_for_agreement(agreement["@id"])
    assert peer.outside == []


async def test_an_unauthenticated_process_request_is_a_404(agora: Node, peer: Peer) -> None:
    """The binding: existence is not revealed to an unauthorized caller."""
    _, ppid, _ = await agreed(agora, peer)
    for pid in (ppid, urn()):
        for token in (None, "not-a-token"):
            status, doc, headers = await peer.call(
                "GET", f"{agora.dsp_url}/negotiations/{pid}", token=token
            )
            assert status == 404, doc
            assert "WWW-Authenticate" not in headers
            validate("ContractNegotiationError", doc)
            assert doc["providerPid"] == pid
    status, doc, headers = await peer.call("GET", f"{agora.dsp_url}/transfers/{urn()}", token=None)
    assert status == 404 and "WWW-Authenticate" not in headers, doc
    # the process is untouched
    assert (await agora.negotiation(ppid))["state"] == "AGREED"
    # not a process endpoint: the caller is told to authenticate
    status, doc, headers = await peer.call(
        "POST",
        f"{agora.dsp_url}/catalog/request?limit=200",
        msg("CatalogRequestMessage"),
        token=None,
    )
    assert status == 401 and "WWW-Authenticate" in headers, doc


async def test_an_unknown_process_names_the_requested_pid(agora: Node, peer: Peer) -> None:
    pid = urn()
    status, doc, _ = await peer.call(
        "GET", f"{agora.dsp_url}/negotiations/{pid}", audience=agora.did
    )
    assert status == 404, doc
    validate("ContractNegotiationError", doc)
    assert doc["providerPid"] == pid
    status, doc, _ = await peer.call("GET", f"{agora.dsp_url}/transfers/{pid}", audience=agora.did)
    assert status == 404, doc
    validate("TransferError", doc)
    assert doc["providerPid"] == pid


async def test_the_consumer_terminates(agora: Node, peer: Peer) -> None:
    cpid, ppid, _ = await agreed(agora, peer)
    body = msg(
        "ContractNegotiationTerminationMessage",
        providerPid=ppid,
        consumerPid=cpid,
        code="ChangedMyMind",
        reason=["no longer needed"],
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/{ppid}/termination", body, audience=agora.did
    )
    assert status == 200, doc
    assert (await agora.negotiation(ppid))["state"] == "TERMINATED"


async def test_a_404_from_a_claimed_receipt_exchange_is_not_retried(
    agora: Node, http: aiohttp.ClientSession
) -> None:
    """A peer that claims the exchange but has no such endpoint is asked, not pestered."""
    claiming = Peer(ledger_service=True)
    await claiming.start(http)
    try:
        cpid, ppid, agreement = await agreed(agora, claiming)
        verification = msg(
            "ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid
        )
        status, doc, _ = await claiming.call(
            "POST",
            f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification",
            verification,
            audience=agora.did,
        )
        assert status == 200, doc
        await wait_for(agora.negotiation, ppid, {"FINALIZED"})
        provenance = agora.connector.ctx.components["provenance"]  # type: ignore[union-attr]
        for _ in range(500):
            if claiming.outside:
                break
            await asyncio.sleep(0.02)
        assert claiming.outside and all(
            r.path == "/ledger/v1/receipts" for r in claiming.outside
        ), [r.path for r in claiming.outside]
        # nothing is waiting for a retry: a 404 ends the delivery
        assert await provenance.exchange.settled(20.0)
        asked = len(claiming.outside)
        assert await provenance.exchange.settled(1.0)
        assert len(claiming.outside) == asked
        assert await provenance.ledger.store.indices_for_agreement(agreement["@id"])
    finally:
        await claiming.stop()
