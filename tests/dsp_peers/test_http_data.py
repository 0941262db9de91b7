"""HttpData-PULL, the generic HTTP data plane of EDC-based connectors: an endpoint and a token
in the DataAddress, pulled with a plain GET. Agora offers its datasets that way (through the
same PEP, usage records and provenance as its NGSI-LD data plane) and pulls it from others."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.dsp.helpers import Node, wait_for
from tests.dsp_peers.peer import Peer, msg, urn
from tests.dsp_peers.test_agora_consumer import (
    agreement_for,
    finalized,
    requested,
    send_agreement,
)
from tests.dsp_peers.test_agora_provider import agreed
from tests.provenance.trade import AIR, seed

pytestmark = pytest.mark.asyncio(loop_scope="package")
HTTP = "https://w3id.org/idsa/v4.1/HTTP"


def props_of(address: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in address.get("endpointProperties", [])}


async def records(agora: Node, agreement_id: str) -> int:
    provenance = agora.connector.ctx.components["provenance"]  # type: ignore[union-attr]
    await provenance.ledger.sync()
    return len(await provenance.ledger.store.indices_for_agreement(agreement_id))


async def test_agora_offers_a_dataset_as_http_data(agora: Node, peer: Peer) -> None:
    await seed(agora, AIR)
    cpid, ppid, agreement = await agreed(agora, peer)
    status, catalog, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/catalog/request?limit=200",
        msg("CatalogRequestMessage"),
        audience=agora.did,
    )
    assert status == 200
    datasets = catalog["dataset"] if isinstance(catalog["dataset"], list) else [catalog["dataset"]]
    ours = next(d for d in datasets if d["@id"] == agreement["target"])
    assert "HttpData-PULL" in [d["format"] for d in ours["distribution"]]
    verification = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
    status, doc, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification",
        verification,
        audience=agora.did,
    )
    assert status == 200, doc
    await wait_for(agora.negotiation, ppid, {"FINALIZED"})
    tcpid = urn()
    request = msg(
        "TransferRequestMessage",
        consumerPid=tcpid,
        agreementId=agreement["@id"],
        format="HttpData-PULL",
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/request", request, audience=agora.did
    )
    assert status == 201, doc
    tppid = doc["providerPid"]
    start = await peer.next_message("TransferStartMessage", consumerPid=tcpid)
    address = start["dataAddress"]
    assert address["endpointType"] == HTTP
    props = props_of(address)
    before = await records(agora, agreement["@id"])
    # a consumer that knows nothing of NGSI-LD: GET the endpoint as given, with the token
    async with peer.http.get(  # type: ignore[union-attr]
        address["endpoint"], headers={"Authorization": f"Bearer {props['authorization']}"}
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json(content_type=None)
    assert sorted(e["id"] for e in body) == sorted(str(e["id"]) for e in AIR)
    # the same PEP: a type outside the agreement is refused, and both requests are recorded
    async with peer.http.get(  # type: ignore[union-attr]
        address["endpoint"].split("?")[0],
        params={"type": "ParkingSpot"},
        headers={"Authorization": f"Bearer {props['authorization']}"},
    ) as resp:
        assert resp.status == 403, await resp.text()
    for _ in range(500):
        if await records(agora, agreement["@id"]) >= before + 2:
            break
        await asyncio.sleep(0.02)
    assert await records(agora, agreement["@id"]) >= before + 2
    # the token is renewed through the refresh endpoint, still as HTTP data
    status, fresh, _ = await peer.call("POST", props["refreshEndpoint"], audience=agora.did)
    assert status == 200, fresh
    assert (
        fresh["endpointType"] == HTTP and props_of(fresh)["authorization"] != props["authorization"]
    )
    # no token, no data
    async with peer.http.get(address["endpoint"]) as resp:  # type: ignore[union-attr]
        assert resp.status == 401
    assert (await agora.transfer(tppid))["format"] == "HttpData-PULL"


async def test_agora_pulls_http_data_from_another_vendor(agora: Node, peer: Peer) -> None:
    cpid, ppid, _, target = await requested(agora, peer)
    agreement = agreement_for(peer, agora, target)
    status, doc = await send_agreement(agora, peer, cpid, ppid, agreement)
    assert status == 200, doc
    await finalized(agora, peer, cpid, ppid)
    status, tr = await agora.admin(
        "POST", "/transfers", {"agreementId": agreement["@id"], "format": "HttpData-PULL"}
    )
    assert status == 201, tr
    request = await peer.next_message("TransferRequestMessage", consumerPid=tr["id"])
    assert request["format"] == "HttpData-PULL"
    await wait_for(agora.transfer, tr["id"], {"REQUESTED"}, field="providerPid")
    start = msg(
        "TransferStartMessage",
        providerPid=request["providerPid"],
        consumerPid=tr["id"],
        dataAddress=peer.data_address("token-7", expiresIn="600"),
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/{tr['id']}/start", start, audience=agora.did
    )
    assert status == 200, doc
    status, edr = await agora.admin("GET", f"/transfers/{tr['id']}/edr")
    assert status == 200 and edr["endpoint"] == peer.url + "/data", edr
    # the application asks Agora, Agora pulls with the token it holds
    before = len(peer.pulls)
    async with agora.http.get(
        agora.url + f"/api/v1/transfers/{tr['id']}/data",
        params={"station": "A1"},
        headers={"Authorization": f"Bearer {agora.admin_key}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        kept = resp.headers["Agora-Received-Id"]  # the copy is known, for a delete duty
    assert body["rows"][0]["station"] == "A1" and body["query"] == {"station": "A1"}
    status, copies = await agora.admin("GET", "/received")
    assert status == 200, copies
    assert kept in [c["id"] for c in copies]
    pulled = peer.pulls[before]
    assert pulled.headers["Authorization"] == "Bearer token-7"


async def test_agora_pushes_http_data_to_a_standard_consumer(agora: Node, peer: Peer) -> None:
    cpid, ppid, agreement = await agreed(agora, peer)
    verification = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
    status, doc, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification",
        verification,
        audience=agora.did,
    )
    assert status == 200, doc
    await wait_for(agora.negotiation, ppid, {"FINALIZED"})
    tcpid = urn()
    request = msg(
        "TransferRequestMessage",
        consumerPid=tcpid,
        agreementId=agreement["@id"],
        format="HttpData-PUSH",
        callbackAddress=peer.dsp_url,
        dataAddress={
            "@type": "DataAddress",
            "endpointType": HTTP,
            "endpoint": peer.url + "/inbox",
            "endpointProperties": [
                {"@type": "EndpointProperty", "name": "authorization", "value": "inbox-key"}
            ],
        },
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/request", request, audience=agora.did
    )
    assert status == 201, doc
    await peer.next_message("TransferStartMessage", consumerPid=tcpid)
    assert (await agora.transfer(doc["providerPid"]))["state"] == "STARTED"
    before = len(peer.pushed)
    changed = [{**AIR[0], "NO2": {"type": "Property", "value": 77}}]
    await seed(agora, changed)
    for _ in range(500):
        if any(
            isinstance(r.body, dict)
            and any(e.get("NO2", {}).get("value") == 77 for e in r.body.get("data", []))
            for r in peer.pushed[before:]
        ):
            break
        await asyncio.sleep(0.02)
    pushed = [r for r in peer.pushed[before:] if isinstance(r.body, dict)]
    assert pushed, "nothing was pushed"
    assert pushed[-1].headers["Authorization"] == "inbox-key"
    assert any(e["id"] == AIR[0]["id"] for r in pushed for e in r.body["data"])
