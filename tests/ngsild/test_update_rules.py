"""Partial updates (GS CIM 009 v1.8 §5.6.2, §5.6.3): the NGSI-LD Null deletes an attribute in an
update, a fragment may carry only types (§4.16), and a missing entity id in the path is the
client's error (BadRequestData), not an unknown resource."""

from __future__ import annotations

from tests.ngsild.conftest import Ngsi, air

EID = "urn:ngsi-ld:AirQualityObserved:001"
BAD = "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


async def test_null_in_update_deletes_the_attribute(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1, name={"type": "Property", "value": "x"}))
    reply = await ngsi_lite.patch(
        f"/entities/{EID}/attrs", {"name": {"type": "Property", "value": "urn:ngsi-ld:null"}}
    )
    assert reply.status == 204, reply.body
    got = (await ngsi_lite.get(f"/entities/{EID}")).body
    assert "name" not in got and got["NO2"]["value"] == 40


async def test_null_in_update_of_a_missing_attribute_is_not_updated(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    reply = await ngsi_lite.patch(f"/entities/{EID}/attrs", {"nothere": "urn:ngsi-ld:null"})
    assert reply.status == 207, reply.body
    assert [n["attributeName"] for n in reply.body["notUpdated"]] == ["nothere"]


async def test_null_in_append_is_refused(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    reply = await ngsi_lite.post(
        f"/entities/{EID}/attrs", {"NO2": {"type": "Property", "value": "urn:ngsi-ld:null"}}
    )
    assert reply.status == 400 and reply.body["type"] == BAD
    assert (await ngsi_lite.get(f"/entities/{EID}")).body["NO2"]["value"] == 40


async def test_update_with_only_a_type_appends_it(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    reply = await ngsi_lite.patch(f"/entities/{EID}/attrs", {"type": "Sensor"})
    assert reply.status == 204, reply.body
    got = (await ngsi_lite.get(f"/entities/{EID}")).body
    assert got["type"] == ["AirQualityObserved", "Sensor"]


async def test_missing_entity_id_in_the_path_is_bad_request(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    frag = {"NO2": {"type": "Property", "value": 1}}
    for method, path in (
        ("POST", "/entities//attrs/"),
        ("PATCH", "/entities//attrs"),
        ("PUT", "/entities/"),
        ("PATCH", "/entities/"),
    ):
        reply = await ngsi_lite.call(method, path, frag)
        assert reply.status == 400, (method, path, reply.body)
        assert reply.body["type"] == BAD
    assert (await ngsi_lite.get(f"/entities/{EID}")).body["NO2"]["value"] == 40
