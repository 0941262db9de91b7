"""A consumer that speaks only DSP 2025-1 (``tests.dsp_peers.peer``) meets a priced offering.

It does not understand Agora's pricing profile and cannot pay in advance: it must still see the
price in the offer, and its request for the priced plan must be refused at once with a DSP error
that names the unmet payment condition — not held until the prepayment timeout (an hour here).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from connector.dsp.validation import validate
from tests.dsp.helpers import Node, start_node
from tests.dsp_peers.peer import Peer, msg, urn
from tests.market.helpers import published

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def seller(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Node, Peer]]:
    """(city selling with evm prepayment, the plain DSP peer)."""
    async with aiohttp.ClientSession() as http:
        city = await start_node(
            Path(tmp_path_factory.mktemp("plain")),
            "city",
            "city",
            http=http,
            extra={"marketplace": {"evm_chain": "embedded", "evm_account": "embedded:1"}},
        )
        peer = Peer()
        await peer.start(http)
        try:
            yield city, peer
        finally:
            await peer.stop()
            await city.connector.stop()


async def _offers(city: Node, peer: Peer, oid: str) -> tuple[str, list[dict[str, Any]]]:
    ds, _ = await published(city, oid)
    status, catalog, _ = await peer.call(
        "POST", f"{city.dsp_url}/catalog/request", msg("CatalogRequestMessage"), audience=city.did
    )
    assert status == 200, catalog
    datasets = catalog["dataset"] if isinstance(catalog["dataset"], list) else [catalog["dataset"]]
    found = next(d for d in datasets if d["@id"] == ds)
    return ds, found["hasPolicy"]


async def _request(city: Node, peer: Peer, ds: str, offer: dict[str, Any]) -> tuple[str, str]:
    cpid = urn()
    request = msg(
        "ContractRequestMessage",
        consumerPid=cpid,
        offer={**offer, "target": ds},
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{city.dsp_url}/negotiations/request", request, audience=city.did
    )
    assert status == 201, doc
    return cpid, doc["providerPid"]


async def test_the_price_is_in_the_offer_and_the_request_is_refused_at_once(
    seller: tuple[Node, Peer],
) -> None:
    city, peer = seller
    ds, (free, priced) = await _offers(city, peer, "plain-aq")
    # the price as a plain DSP peer reads it: a compensate obligation with payAmount and unit
    assert "https://w3id.org/agora/pricing" in priced["profile"]
    (duty,) = priced["obligation"]
    assert duty["action"] == "compensate"
    pay = next(c for c in duty["constraint"] if c["leftOperand"] == "payAmount")
    assert pay["rightOperand"]["@value"] == "49.00"
    assert "Euro" in pay["odrl:unit"]["@id"]
    cpid, ppid = await _request(city, peer, ds, priced)
    # well within the default one-hour prepayment timeout: refused by the decision itself
    ended = await peer.next_message(
        "ContractNegotiationTerminationMessage", consumerPid=cpid, within=15
    )
    validate("ContractNegotiationTerminationMessage", ended)
    assert ended["providerPid"] == ppid and ended["code"] == "PaymentRequired"
    why = " ".join(ended["reason"])
    assert "payment condition not met" in why and "49.00 EUR" in why
    assert "prepayment" in why and peer.did in why
    assert not [r for r in peer.received if r.body.get("@type") == "ContractAgreementMessage"], (
        "no agreement was sent"
    )
    assert (await city.negotiation(ppid))["state"] == "TERMINATED"
    status, agreements = await city.admin("GET", "/agreements")
    assert status == 200 and agreements == []
    assert (await city.admin("GET", "/payments"))[1] == []
    # the free plan of the same offering needs no payment: agreed as usual
    cpid, _ = await _request(city, peer, ds, free)
    await peer.next_message("ContractAgreementMessage", consumerPid=cpid, within=15)
