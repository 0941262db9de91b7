"""Management reads: unknown ids are 404 Problems, and lists filter by state."""

from __future__ import annotations

import pytest

from tests.dsp.helpers import Node, insert_negotiation, insert_transfer


@pytest.mark.parametrize("kind", ["datasets", "negotiations", "agreements", "transfers"])
async def test_unknown_id_is_a_404_problem(pair: tuple[Node, Node], kind: str) -> None:
    city, _ = pair
    status, body = await city.admin("GET", f"/{kind}/urn:uuid:nothing-here")
    assert status == 404
    assert body["title"] == "Not Found"
    assert body["detail"] == f"no such {kind.removesuffix('s')}"


async def test_lists_filter_by_state(pair: tuple[Node, Node]) -> None:
    city, company = pair
    offered = await insert_negotiation(city, role="provider", state="OFFERED", peer=company)
    await insert_negotiation(city, role="provider", state="TERMINATED", peer=company)
    started = await insert_transfer(city, role="provider", state="STARTED", peer=company)
    await insert_transfer(city, role="provider", state="SUSPENDED", peer=company)

    status, body = await city.admin("GET", "/negotiations?state=OFFERED")
    assert status == 200
    assert [n["id"] for n in body] == [offered["pid"]]
    status, body = await city.admin("GET", "/negotiations")
    assert len(body) == 2
    status, body = await city.admin("GET", "/transfers?state=STARTED")
    assert [t["id"] for t in body] == [started["pid"]]
    status, body = await city.admin("GET", "/transfers")
    assert len(body) == 2
