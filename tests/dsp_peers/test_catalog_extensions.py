"""Agora's extensions (the provider's agreement signature, the ledger receipt exchange)
advertised in the DSP catalog as well as the DID document, and honoured from either: a peer
that lists them only on its catalog's DataService is treated like one whose DID document does."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from connector.dsp.extensions import AGREEMENT_SIGNATURE, EXTENSIONS, LEDGER_EXCHANGE
from connector.dsp.validation import validate
from tests.dsp.helpers import Node, count_agreements, wait_for
from tests.dsp_peers.peer import Peer, msg
from tests.dsp_peers.test_agora_consumer import agreement_for, requested, send_agreement
from tests.dsp_peers.test_agora_provider import agreed

pytestmark = pytest.mark.asyncio(loop_scope="package")


async def fetch_catalog(agora: Node, peer: Peer) -> None:
    status, catalog = await agora.admin(
        "POST",
        "/catalog/request",
        {"counterPartyAddress": peer.dsp_url, "counterPartyId": peer.did},
    )
    assert status == 200, catalog


async def test_agoras_catalog_lists_its_extensions(agora: Node, peer: Peer) -> None:
    dataset_id, _, _ = await agora.publish(title="extensions")
    status, catalog, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/catalog/request?limit=200",
        msg("CatalogRequestMessage"),
        audience=agora.did,
    )
    assert status == 200, catalog
    validate("Catalog", catalog)  # extension properties keep the message valid
    services = catalog["service"]
    assert services and all(
        set(s[EXTENSIONS]) == {AGREEMENT_SIGNATURE, LEDGER_EXCHANGE} for s in services
    ), services
    ours = next(d for d in catalog["dataset"] if d["@id"] == dataset_id)
    assert all(AGREEMENT_SIGNATURE in d["accessService"][EXTENSIONS] for d in ours["distribution"])


async def test_a_signature_advertised_only_in_the_catalog_is_required(
    agora: Node, http: aiohttp.ClientSession
) -> None:
    signer = Peer(catalog_extensions=[AGREEMENT_SIGNATURE])
    await signer.start(http)
    try:
        # before its catalog was seen, its DID document says nothing: unsigned is accepted
        cpid, ppid, _, target = await requested(agora, signer)
        status, doc = await send_agreement(
            agora, signer, cpid, ppid, agreement_for(signer, agora, target)
        )
        assert status == 200, doc
        await fetch_catalog(agora, signer)
        cpid, ppid, _, target = await requested(agora, signer)
        stored = await count_agreements(agora)
        status, doc = await send_agreement(
            agora, signer, cpid, ppid, agreement_for(signer, agora, target)
        )
        assert status == 400 and doc["code"] == "AgreementSignatureInvalid", doc
        validate("ContractNegotiationError", doc)
        assert doc["providerPid"] == ppid and doc["consumerPid"] == cpid
        assert await count_agreements(agora) == stored
        assert (await agora.negotiation(cpid))["state"] == "REQUESTED"
    finally:
        await signer.stop()


async def test_a_catalog_that_lists_nothing_takes_no_extension_away(
    agora: Node, claiming_peer: Peer
) -> None:
    """The DID document says the peer signs; an empty catalog does not lift that."""
    await fetch_catalog(agora, claiming_peer)
    cpid, ppid, _, target = await requested(agora, claiming_peer)
    status, doc = await send_agreement(
        agora, claiming_peer, cpid, ppid, agreement_for(claiming_peer, agora, target)
    )
    assert status == 400 and doc["code"] == "AgreementSignatureInvalid", doc


async def test_receipts_go_to_a_peer_whose_catalog_lists_the_exchange(
    agora: Node, http: aiohttp.ClientSession
) -> None:
    exchanging = Peer(catalog_extensions=[LEDGER_EXCHANGE])
    await exchanging.start(http)
    try:
        await fetch_catalog(agora, exchanging)
        cpid, ppid, _ = await agreed(agora, exchanging)
        verification = msg(
            "ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid
        )
        status, doc, _ = await exchanging.call(
            "POST",
            f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification",
            verification,
            audience=agora.did,
        )
        assert status == 200, doc
        await wait_for(agora.negotiation, ppid, {"FINALIZED"})
        for _ in range(500):
            if exchanging.outside:
                break
            await asyncio.sleep(0.02)
        assert [r.path for r in exchanging.outside][:1] == ["/ledger/v1/receipts"]
    finally:
        await exchanging.stop()
