"""Agora as consumer, the other vendor as provider (the TCK's CN_C and TP_C areas): Agora is
driven through its management API, the provider's side is scripted in the test."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from connector.dsp.validation import validate
from tests.dsp.helpers import Node, count_agreements, wait_for
from tests.dsp_peers.peer import Peer, msg, urn

pytestmark = pytest.mark.asyncio(loop_scope="package")

RULES = {"permission": [{"action": "use"}]}


def agreement_for(peer: Peer, agora: Node, target: str, **extra: Any) -> dict[str, Any]:
    """The agreement as a 2025-1 provider sends it: no signature property."""
    return {
        "@id": urn(),
        "@type": "Agreement",
        "target": target,
        "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "assigner": peer.did,
        "assignee": agora.did,
        **RULES,
        **extra,
    }


async def requested(agora: Node, peer: Peer) -> tuple[str, str, str, str]:
    """Agora requests an offer of the peer: (Agora's pid, the peer's pid, callback, target)."""
    target = urn()
    status, neg = await agora.admin(
        "POST",
        "/negotiations",
        {
            "counterPartyAddress": peer.dsp_url,
            "counterPartyId": peer.did,
            "offer": {"@id": urn(), **RULES},
            "target": target,
        },
    )
    assert status == 201, neg
    request = await peer.next_message("ContractRequestMessage", consumerPid=neg["id"])
    assert request["callbackAddress"] == agora.dsp_url
    mine = await wait_for(agora.negotiation, neg["id"], {"REQUESTED"}, field="providerPid")
    assert mine["providerPid"] == request["providerPid"]
    return neg["id"], request["providerPid"], request["callbackAddress"], target


async def send_agreement(
    agora: Node, peer: Peer, cpid: str, ppid: str, agreement: dict[str, Any]
) -> tuple[int, Any]:
    body = msg("ContractAgreementMessage", providerPid=ppid, consumerPid=cpid, agreement=agreement)
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/{cpid}/agreement", body, audience=agora.did
    )
    return status, doc


async def finalized(agora: Node, peer: Peer, cpid: str, ppid: str) -> dict[str, Any]:
    """The peer, having received Agora's verification, finalizes."""
    await peer.next_message("ContractAgreementVerificationMessage", providerPid=ppid)
    event = msg(
        "ContractNegotiationEventMessage", providerPid=ppid, consumerPid=cpid, eventType="FINALIZED"
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/{cpid}/events", event, audience=agora.did
    )
    assert status == 200, doc
    return await wait_for(agora.negotiation, cpid, {"FINALIZED"})


async def test_a_standard_unsigned_agreement_completes_the_negotiation(
    agora: Node, peer: Peer
) -> None:
    cpid, ppid, _, target = await requested(agora, peer)
    agreement = agreement_for(peer, agora, target)
    status, doc = await send_agreement(agora, peer, cpid, ppid, agreement)
    assert status == 200, doc
    assert doc["state"] == "AGREED"
    mine = await finalized(agora, peer, cpid, ppid)
    assert mine["agreementId"] == agreement["@id"]
    status, kept = await agora.admin("GET", f"/agreements/{agreement['@id']}")
    assert status == 200, kept
    assert kept["signature"] is None and kept["agreement"] == agreement
    provenance = agora.connector.ctx.components["provenance"]  # type: ignore[union-attr]
    assert await provenance.exchange.settled(20.0)
    ledger = provenance.ledger
    records = [
        (await ledger.entry(i)).data.decode()
        for i in await ledger.store.indices_for_agreement(agreement["@id"])
    ]
    assert any('"agreementSigned":false' in r for r in records), records
    # nothing outside the peer's DSP base path (no receipts to a peer without the exchange)
    assert peer.outside == []


async def test_a_peer_that_advertises_the_signature_must_send_it(
    agora: Node, claiming_peer: Peer
) -> None:
    cpid, ppid, _, target = await requested(agora, claiming_peer)
    before = await count_agreements(agora)
    agreement = agreement_for(claiming_peer, agora, target)
    status, doc = await send_agreement(agora, claiming_peer, cpid, ppid, agreement)
    assert status == 400, doc
    validate("ContractNegotiationError", doc)
    assert doc["code"] == "AgreementSignatureInvalid"
    assert doc["providerPid"] == ppid and doc["consumerPid"] == cpid
    assert await count_agreements(agora) == before
    assert (await agora.negotiation(cpid))["state"] in ("REQUESTED", "TERMINATED")


async def test_a_signature_that_is_there_must_verify(agora: Node, peer: Peer) -> None:
    cpid, ppid, _, target = await requested(agora, peer)
    before = await count_agreements(agora)
    agreement = agreement_for(
        peer, agora, target, **{"https://w3id.org/agora/dsp#providerSignature": "e30..c2ln"}
    )
    status, doc = await send_agreement(agora, peer, cpid, ppid, agreement)
    assert status == 400, doc
    assert doc["code"] == "AgreementSignatureInvalid"
    assert await count_agreements(agora) == before


async def test_an_agreement_out_of_turn_is_an_illegal_transition_first(
    agora: Node, peer: Peer
) -> None:
    """The state is checked before the signature: an agreement in OFFERED (the consumer has
    not accepted) is refused as an illegal transition, whatever it carries."""
    ppid, target = urn(), urn()
    offer = msg(
        "ContractOfferMessage",
        providerPid=ppid,
        offer={"@id": urn(), "@type": "Offer", "target": target, **RULES},
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/offers", offer, audience=agora.did
    )
    assert status == 201, doc
    cpid = doc["consumerPid"]
    assert doc["state"] == "OFFERED"
    before = await count_agreements(agora)
    garbage = {"https://w3id.org/agora/dsp#providerSignature": "not.a.jws"}
    status, doc = await send_agreement(
        agora, peer, cpid, ppid, agreement_for(peer, agora, target, **garbage)
    )
    assert status == 400, doc
    assert doc["code"] == "IllegalTransition", doc
    assert await count_agreements(agora) == before
    assert (await agora.negotiation(cpid))["state"] == "OFFERED"


async def test_a_provider_initiated_offer_accepted_by_the_operator(agora: Node, peer: Peer) -> None:
    ppid, target = urn(), urn()
    offer = msg(
        "ContractOfferMessage",
        providerPid=ppid,
        offer={"@id": urn(), "@type": "Offer", "target": target, **RULES},
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/offers", offer, audience=agora.did
    )
    assert status == 201, doc
    cpid = doc["consumerPid"]
    status, view = await agora.admin("POST", f"/negotiations/{cpid}/accept")
    assert status == 200, view
    await peer.next_message(
        "ContractNegotiationEventMessage", providerPid=ppid, eventType="ACCEPTED"
    )
    status, doc = await send_agreement(agora, peer, cpid, ppid, agreement_for(peer, agora, target))
    assert status == 200, doc
    await finalized(agora, peer, cpid, ppid)


async def test_the_provider_terminates(agora: Node, peer: Peer) -> None:
    cpid, ppid, _, _ = await requested(agora, peer)
    body = msg(
        "ContractNegotiationTerminationMessage",
        providerPid=ppid,
        consumerPid=cpid,
        code="NoDeal",
        reason=["declined"],
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/negotiations/{cpid}/termination", body, audience=agora.did
    )
    assert status == 200, doc
    assert (await agora.negotiation(cpid))["state"] == "TERMINATED"


async def test_a_transfer_from_the_peer_started_and_completed(agora: Node, peer: Peer) -> None:
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
    assert request["agreementId"] == agreement["@id"]
    tppid = request["providerPid"]
    await wait_for(agora.transfer, tr["id"], {"REQUESTED"}, field="providerPid")
    start = msg(
        "TransferStartMessage",
        providerPid=tppid,
        consumerPid=tr["id"],
        dataAddress={
            "@type": "DataAddress",
            "endpointType": "https://uri.etsi.org/ngsi-ld/v1",
            "endpoint": peer.url + "/ngsi-ld/v1",
            "endpointProperties": [
                {"@type": "EndpointProperty", "name": "authorization", "value": "t0ken"},
                {"@type": "EndpointProperty", "name": "authType", "value": "bearer"},
            ],
        },
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/{tr['id']}/start", start, audience=agora.did
    )
    assert status == 200, doc
    assert (await agora.transfer(tr["id"]))["state"] == "STARTED"
    status, view = await agora.admin("POST", f"/transfers/{tr['id']}/complete")
    assert status == 200, view
    await peer.next_message("TransferCompletionMessage", providerPid=tppid)
    assert peer.outside == []
