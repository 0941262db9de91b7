"""Query Entities input rules (GS CIM 009 v1.8 §5.7.2.4, Table 5.2.23-1): filters naming only
system attributes are too wide, q on linked entities needs join, a malformed csf is refused;
the Query body rejects empty entities or attrs arrays, a non-positive joinLevel and temporalQ,
and projects with its own pick / omit."""

from __future__ import annotations

from typing import Any

from tests.ngsild.conftest import Ngsi, air

BAD_DATA = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
QUERY = "/entityOperations/query"


async def test_too_wide_or_malformed_queries(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    for params in (
        {"attrs": "createdAt"},
        {"q": 'modifiedAt>"2020-01-01T00:00:00Z"'},
        {"type": "AirQualityObserved", "q": 'owner{name}=="x"'},
        {"type": "AirQualityObserved", "csf": "))bad(("},
    ):
        reply = await ngsi_lite.get("/entities", **params)
        assert reply.status == 400, (params, reply.body)
        assert reply.body["type"] == BAD_DATA, params
    fine = await ngsi_lite.get("/entities", attrs="NO2,createdAt")
    assert fine.status == 200 and len(fine.body) == 1


async def test_query_body_rules_and_projection(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    selector: list[dict[str, Any]] = [{"type": "AirQualityObserved"}]
    for body in (
        {"type": "Query", "entities": []},
        {"type": "Query", "entities": selector, "attrs": []},
        {"type": "Query", "entities": selector, "join": "inline", "joinLevel": 0},
        {"type": "Query", "entities": selector, "temporalQ": {"timerel": "after"}},
    ):
        reply = await ngsi_lite.post(QUERY, body)
        assert reply.status == 400, (body, reply.body)
        assert reply.body["type"] == BAD_DATA, body
    picked = await ngsi_lite.post(QUERY, {"type": "Query", "entities": selector, "pick": "id,NO2"})
    assert picked.status == 200, picked.body
    assert set(picked.body[0]) == {"id", "NO2"}
    omitted = await ngsi_lite.post(
        QUERY, {"type": "Query", "entities": selector, "omit": ["NO2", "location"]}
    )
    assert omitted.status == 200, omitted.body
    assert set(omitted.body[0]) == {"id", "type"}
