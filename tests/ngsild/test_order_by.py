"""orderBy (GS CIM 009 v1.8 §4.23): entities ordered by id, a system member, an attribute or a
path below it, ascending unless ``;desc``, several keys left to right; a temporal query may be
ordered only by id (§5.7.4.4)."""

from __future__ import annotations

from typing import Any

from tests.ngsild.conftest import Ngsi

BAD_DATA = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def _building(n: int, name: str, rank: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Building:{n}",
        "type": "Building",
        "name": {"type": "Property", "value": name, "rank": {"type": "Property", "value": rank}},
    }


async def _order(ngsi: Ngsi, order_by: str, **extra: str) -> list[str]:
    got = await ngsi.get("/entities", type="Building", orderBy=order_by, **extra)
    assert got.status == 200, (order_by, got.body)
    return [e["id"].rsplit(":", 1)[1] for e in got.body]


async def test_order_by_members_directions_and_pages(ngsi_lite: Ngsi) -> None:
    # created 2, 1, 3: createdAt order differs from id order; names and ranks disagree
    for n, name, rank in ((2, "B", 1), (1, "C", 3), (3, "A", 2)):
        await ngsi_lite.create(_building(n, name, rank))
    await ngsi_lite.create({"id": "urn:ngsi-ld:Building:4", "type": "Building"})  # no name
    assert await _order(ngsi_lite, "id") == ["1", "2", "3", "4"]
    assert await _order(ngsi_lite, "id;desc") == ["4", "3", "2", "1"]
    assert await _order(ngsi_lite, "createdAt") == ["2", "1", "3", "4"]
    assert await _order(ngsi_lite, "name") == ["3", "2", "1", "4"]  # without a name: last
    assert await _order(ngsi_lite, "name;desc") == ["1", "2", "3", "4"]
    assert await _order(ngsi_lite, "name.rank") == ["2", "3", "1", "4"]
    assert await _order(ngsi_lite, "name.createdAt;desc") == ["3", "1", "2", "4"]
    assert await _order(ngsi_lite, "type,name.rank;desc") == ["1", "3", "2", "4"]
    assert await _order(ngsi_lite, "name", limit="2", offset="1") == ["2", "1"]
    page = await ngsi_lite.get("/entities", type="Building", orderBy="name", limit="2")
    assert 'rel="next"' in page.headers.get("Link", "")
    for n, city in ((5, "Zurich"), (6, "Athens")):
        await ngsi_lite.create(
            {
                "id": f"urn:ngsi-ld:Building:{n}",
                "type": "Building",
                "address": {"type": "Property", "value": {"city": city}},
            }
        )
    by_city = await _order(ngsi_lite, "address[city];desc")
    assert by_city[:2] == ["5", "6"]  # §4.23.3: a [key] subitem of a compound value
    for bad in ("name;up", "", "na me", "address[city"):
        reply = await ngsi_lite.get("/entities", type="Building", orderBy=bad)
        assert reply.status == 400 and reply.body["type"] == BAD_DATA, (bad, reply.body)


async def test_temporal_order_by_id_only(ngsi_lite: Ngsi) -> None:
    for n, name, rank in ((2, "B", 1), (1, "C", 3), (3, "A", 2)):
        await ngsi_lite.create(_building(n, name, rank))
    window = {"timerel": "after", "timeAt": "1970-01-01T00:00:00Z", "timeproperty": "createdAt"}
    for order_by, expected in (("id", ["1", "2", "3"]), ("id;desc", ["3", "2", "1"])):
        got = await ngsi_lite.get("/temporal/entities", type="Building", orderBy=order_by, **window)
        assert got.status == 200, got.body
        assert [e["id"].rsplit(":", 1)[1] for e in got.body] == expected
    desc = await ngsi_lite.get(
        "/temporal/entities", type="Building", orderBy="id;desc", limit="1", offset="1", **window
    )
    assert [e["id"] for e in desc.body] == ["urn:ngsi-ld:Building:2"]
    for bad in ("name", "createdAt", "name.rank", "id,name", "id;sideways"):
        reply = await ngsi_lite.get("/temporal/entities", type="Building", orderBy=bad, **window)
        assert reply.status == 400 and reply.body["type"] == BAD_DATA, (bad, reply.body)
