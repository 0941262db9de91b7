"""Writes under an access scope with an area: an entity may only be written while its location
meets the area, before and after the change; single and batch writes, nothing stored when
refused."""

from __future__ import annotations

from typing import Any

from connector.ngsild.pep import AccessScope, AdminOnlyPep
from tests.ngsild.conftest import Ngsi, air
from tests.ngsild.test_pep import CENTRE_AREA, RecordingPep

INSIDE = (-1.13, 37.99)
OUTSIDE = (-1.30, 37.90)
AQ = "urn:ngsi-ld:AirQualityObserved:"


def place(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


async def as_admin(n: Ngsi, path: str) -> Any:
    """Read with full access (the scope under test would hide what lies outside)."""
    assert n.connector.ctx is not None
    components = n.connector.ctx.components
    scoped = components["ngsild.pep"]
    components["ngsild.pep"] = AdminOnlyPep()
    try:
        return await n.get(path)
    finally:
        components["ngsild.pep"] = scoped


def scoped(n: Ngsi) -> None:
    assert n.connector.ctx is not None
    scope = AccessScope(area=CENTRE_AREA, may_write=True)
    n.connector.ctx.components["ngsild.pep"] = RecordingPep(scope)


def refused(reply: Any) -> None:
    assert reply.status == 403, reply.body
    assert "outside the permitted area" in reply.body["detail"]


async def test_single_writes_stay_inside_the_area(ngsi: Ngsi) -> None:
    n = ngsi
    await n.create(air(50, lon=OUTSIDE[0], lat=OUTSIDE[1]))  # the admin's, outside
    scoped(n)
    assert (await n.post("/entities", air(1, lon=INSIDE[0], lat=INSIDE[1]))).status == 201
    refused(await n.post("/entities", air(2, lon=OUTSIDE[0], lat=OUTSIDE[1])))
    no_location = {"id": f"{AQ}003", "type": "AirQualityObserved", "NO2": {"value": 1}}
    refused(await n.post("/entities", no_location))
    assert (await as_admin(n, f"/entities/{AQ}002")).status == 404
    assert (await as_admin(n, f"/entities/{AQ}003")).status == 404

    one = f"/entities/{AQ}001"
    away = {"location": place(*OUTSIDE)}
    refused(await n.patch(f"{one}/attrs", away))  # update
    refused(await n.post(f"{one}/attrs", away))  # append
    refused(await n.patch(one, away))  # merge
    refused(await n.patch(f"{one}/attrs/location", place(*OUTSIDE)))
    refused(await n.call("PUT", f"{one}/attrs/location", place(*OUTSIDE)))
    refused(await n.call("PUT", one, air(1, lon=OUTSIDE[0], lat=OUTSIDE[1])))
    refused(await n.call("DELETE", f"{one}/attrs/location"))
    stored = (await as_admin(n, one)).body
    assert stored["location"]["value"]["coordinates"] == list(INSIDE)
    # moving within the area and other changes are fine
    assert (await n.patch(one, {"location": place(-1.125, 37.985), "NO2": 7})).status == 204
    assert (await as_admin(n, one)).body["NO2"]["value"] == 7

    # the entity outside can neither be changed nor brought inside nor deleted
    outside = f"/entities/{AQ}050"
    refused(await n.patch(outside, {"location": place(*INSIDE)}))
    refused(await n.call("DELETE", outside))
    assert (await as_admin(n, outside)).body["location"]["value"]["coordinates"] == list(OUTSIDE)


async def test_batch_writes_report_entities_outside_the_area(ngsi: Ngsi) -> None:
    n = ngsi
    scoped(n)
    reply = await n.post(
        "/entityOperations/create",
        [air(1, lon=INSIDE[0], lat=INSIDE[1]), air(2, lon=OUTSIDE[0], lat=OUTSIDE[1])],
    )
    assert reply.status == 207, reply.body
    assert reply.body["success"] == [f"{AQ}001"]
    [error] = reply.body["errors"]
    assert error["entityId"] == f"{AQ}002" and error["error"]["status"] == 403
    assert (await as_admin(n, f"/entities/{AQ}002")).status == 404

    for operation in ("upsert", "update", "merge"):
        reply = await n.post(
            f"/entityOperations/{operation}",
            [
                {"id": f"{AQ}001", "type": "AirQualityObserved", "location": place(*OUTSIDE)},
                {"id": f"{AQ}004", "type": "AirQualityObserved", "location": place(*OUTSIDE)},
            ],
        )
        assert reply.status == 207, (operation, reply.body)
        assert {e["entityId"] for e in reply.body["errors"]} >= {f"{AQ}001"}
        assert all(e["error"]["status"] in (403, 404) for e in reply.body["errors"])
        assert reply.body["success"] == []
    stored = (await as_admin(n, f"/entities/{AQ}001")).body
    assert stored["location"]["value"]["coordinates"] == list(INSIDE)
    assert (await as_admin(n, f"/entities/{AQ}004")).status == 404

    # an upsert inside the area goes through next to a refused one
    reply = await n.post(
        "/entityOperations/upsert",
        [
            {"id": f"{AQ}005", "type": "AirQualityObserved", "location": place(*INSIDE)},
            {"id": f"{AQ}006", "type": "AirQualityObserved", "location": place(*OUTSIDE)},
        ],
    )
    assert reply.status == 207, reply.body
    assert reply.body["success"] == [f"{AQ}005"]
    assert [e["entityId"] for e in reply.body["errors"]] == [f"{AQ}006"]
    assert reply.body["errors"][0]["error"]["status"] == 403


async def test_history_writes_need_no_location_but_keep_inside(ngsi_lite: Ngsi) -> None:
    n = ngsi_lite
    scoped(n)
    temporal = {
        "id": f"{AQ}010",
        "type": "AirQualityObserved",
        "NO2": [{"type": "Property", "value": 5, "observedAt": "2025-03-04T10:00:00Z"}],
    }
    assert (await n.post("/temporal/entities", temporal)).status == 201
    more = {"NO2": {"type": "Property", "value": 6, "observedAt": "2025-03-04T11:00:00Z"}}
    assert (await n.post(f"/temporal/entities/{AQ}010/attrs", more)).status == 204
    away = {"location": [place(*INSIDE), place(*OUTSIDE)]}
    reply = await n.post(f"/temporal/entities/{AQ}010/attrs", away)
    assert reply.status == 403, reply.body
    assert "outside the permitted area" in reply.body["detail"]
    history = (await as_admin(n, f"/temporal/entities/{AQ}010")).body
    assert "location" not in history and len(history["NO2"]) == 2
    assert (await n.call("DELETE", f"/temporal/entities/{AQ}010")).status == 204
