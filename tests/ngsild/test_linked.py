"""Linked entity retrieval (GS CIM 009 v1.8 §4.5.23): join=inline embeds the entity a
Relationship points at (an ``entity`` member; in keyValues the entity itself), join=flat
appends the linked entities after the matched ones, each once, up to joinLevel hops."""

from __future__ import annotations

from typing import Any

from tests.ngsild.conftest import Ngsi


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


async def _world(ngsi: Ngsi) -> None:
    await ngsi.create({"id": "urn:ngsi-ld:Country:FR", "type": "Country"})
    await ngsi.create(
        {
            "id": "urn:ngsi-ld:City:Paris",
            "type": "City",
            "inCountry": _rel("urn:ngsi-ld:Country:FR"),
        }
    )
    for n in (1, 2):
        await ngsi.create(
            {
                "id": f"urn:ngsi-ld:Building:{n}",
                "type": "Building",
                "locatedAt": _rel("urn:ngsi-ld:City:Paris"),
                "owner": _rel("urn:ngsi-ld:Person:nobody"),  # dangling: not joined
            }
        )


async def test_inline_and_flat_joins(ngsi_lite: Ngsi) -> None:
    await _world(ngsi_lite)
    inline = await ngsi_lite.get("/entities", type="Building", join="inline")
    assert inline.status == 200, inline.body
    located = inline.body[0]["locatedAt"]
    assert located["object"] == "urn:ngsi-ld:City:Paris"
    assert located["entity"]["id"] == "urn:ngsi-ld:City:Paris"
    assert "entity" not in located["entity"]["inCountry"]  # joinLevel 1
    assert "entity" not in inline.body[0]["owner"]
    deep = await ngsi_lite.get("/entities/urn:ngsi-ld:Building:1", join="inline", joinLevel="2")
    assert deep.body["locatedAt"]["entity"]["inCountry"]["entity"]["type"] == "Country"
    simple = await ngsi_lite.get(
        "/entities/urn:ngsi-ld:Building:1", join="inline", options="keyValues"
    )
    assert simple.body["locatedAt"]["id"] == "urn:ngsi-ld:City:Paris"

    flat = await ngsi_lite.get("/entities", type="Building", join="flat")
    assert [e["id"] for e in flat.body] == [
        "urn:ngsi-ld:Building:1",
        "urn:ngsi-ld:Building:2",
        "urn:ngsi-ld:City:Paris",
    ]
    two = await ngsi_lite.get("/entities/urn:ngsi-ld:Building:2", join="flat", joinLevel="2")
    assert [e["id"] for e in two.body] == [
        "urn:ngsi-ld:Building:2",
        "urn:ngsi-ld:City:Paris",
        "urn:ngsi-ld:Country:FR",
    ]
    picked = await ngsi_lite.get("/entities", type="Building", join="flat", pick="id,owner")
    assert [e["id"] for e in picked.body] == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"]
    alone = await ngsi_lite.get("/entities/urn:ngsi-ld:City:Paris", join="flat", pick="id")
    assert alone.body == {"id": "urn:ngsi-ld:City:Paris"}  # nothing linked: the entity alone
    for params in ({"join": "sideways"}, {"join": "flat", "joinLevel": "0"}):
        bad = await ngsi_lite.get("/entities", type="Building", **params)
        assert bad.status == 400, (params, bad.body)
