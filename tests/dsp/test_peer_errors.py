"""A consumer's mistakes about a peer's address get an answer that says what to do."""

from __future__ import annotations

from tests.dsp.helpers import Node


async def test_an_address_without_the_dsp_path_finds_the_advertised_endpoint(
    pair: tuple[Node, Node],
) -> None:
    city, company = pair
    for address in (city.url, city.url + "/"):
        status, body = await company.admin(
            "POST", "/catalog/request", {"counterPartyAddress": address}
        )
        assert status == 200, body
        assert body["@type"] == "Catalog" and body["participantId"] == city.did


async def test_an_unreachable_peer_is_a_502_naming_the_peer_and_the_cause(
    pair: tuple[Node, Node],
) -> None:
    _, company = pair
    status, body = await company.admin(
        "POST", "/catalog/request", {"counterPartyAddress": "http://127.0.0.1:9/dsp"}
    )
    assert status == 502, body
    assert "cannot reach the peer at http://127.0.0.1:9/dsp" in body["detail"]
    assert "connect" in body["detail"].lower()
    status, body = await company.admin(
        "POST",
        "/catalog/dataset",
        {"counterPartyAddress": "http://127.0.0.1:9/dsp", "datasetId": "x"},
    )
    assert status == 502, body
    assert "127.0.0.1:9" in body["detail"]
