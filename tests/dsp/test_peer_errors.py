"""A consumer's mistakes about a peer's address get an answer that says what to do."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from connector.config import load_settings
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector
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


async def test_a_loopback_peer_without_dev_mode_names_the_setting(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as http:
        directory = tmp_path / "prod"
        init_participant(
            directory,
            "prod",
            "company",
            port=0,
            extra_settings={"dsp": {"authentication": "self-issued"}},
        )
        connector = Connector(load_settings(directory, env={}))
        await connector.start()
        node = Node(connector, read_admin_key(directory), http)
        try:
            status, body = await node.admin(
                "POST", "/catalog/request", {"counterPartyAddress": "http://127.0.0.1:9/dsp"}
            )
        finally:
            await node.connector.stop()
    assert status == 400, body
    assert "dev_mode" in body["detail"] and "AGORA_SERVER_DEV_MODE" in body["detail"]
