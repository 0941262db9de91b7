"""Creation input rules of GS CIM 009 v1.8: DateTimes are UTC with a trailing Z (§4.6.3), and the
NGSI-LD Null deletes only in partial updates and merges (§5.5.4), so a create carrying it is
BadRequestData. Each refusal stores nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ngsild.conftest import Ngsi, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
EID = "urn:ngsi-ld:AirQualityObserved:001"
NULL = "urn:ngsi-ld:null"


async def _nothing_stored(ngsi: Ngsi) -> None:
    reply = await ngsi.get("/entities", idPattern=".*")
    assert reply.body == [], reply.body


def _no2(**members: Any) -> dict[str, Any]:
    return {"type": "Property", "value": 1, **members}


@pytest.mark.parametrize(
    "observed", ["2025-03-04T10:00:00+01:00", "2025-03-04T10:00:00-0500", "2025-03-04T10:00:00"]
)
async def test_observed_at_must_be_utc(ngsi_lite: Ngsi, observed: str) -> None:
    entity = air(1, NO2=_no2(observedAt=observed))
    for path in ("/entities", "/temporal/entities"):
        reply = await ngsi_lite.post(path, entity)
        assert reply.status == 400, (path, reply.body)
        assert reply.body["type"] == ERR
    await _nothing_stored(ngsi_lite)


async def test_utc_observed_at_is_accepted(ngsi_lite: Ngsi) -> None:
    reply = await ngsi_lite.post("/entities", air(1, NO2=_no2(observedAt="2025-03-04T10:00Z")))
    assert reply.status == 201, reply.body


@pytest.mark.parametrize(
    "members",
    [
        {"NO2": _no2(value=NULL)},
        {"ref": {"type": "Relationship", "object": NULL}},
        {"NO2": _no2(sub=_no2(value=NULL))},
        {"NO2": _no2(value={"country": NULL})},
        {"scope": NULL},
        {"id": NULL},
    ],
)
async def test_null_cannot_be_created(ngsi_lite: Ngsi, members: dict[str, Any]) -> None:
    entity = {**air(1), **members}
    reply = await ngsi_lite.post("/entities", entity)
    assert reply.status == 400, reply.body
    assert reply.body["type"] == ERR
    batch = await ngsi_lite.post("/entityOperations/create", [entity])
    assert batch.status in (400, 207), batch.body
    await _nothing_stored(ngsi_lite)


async def test_null_still_deletes_in_a_merge(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1, name={"type": "Property", "value": "x"}))
    reply = await ngsi_lite.patch(f"/entities/{EID}", {"name": NULL})
    assert reply.status == 204, reply.body
    assert "name" not in (await ngsi_lite.get(f"/entities/{EID}")).body
