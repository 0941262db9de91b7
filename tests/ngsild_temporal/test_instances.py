"""Editing a history (GS CIM 009 v1.8 §6.21.3.2, §6.22.3): deleting an attribute's instances
(the default instance, one datasetId, or all with deleteAll), modifying one instance in place
(it keeps its instance id) and deleting one; bad names and ids are BadRequestData and change
nothing, unknown ones ResourceNotFound."""

from __future__ import annotations

from typing import Any

from tests.ngsild_subscriptions.support import ERR, Client

EID = "urn:ngsi-ld:Vehicle:1"
BASE = f"/temporal/entities/{EID}"


def _vehicle() -> dict[str, Any]:
    return {
        "id": EID,
        "type": "Vehicle",
        "speed": [
            {"type": "Property", "value": 120, "observedAt": "2020-09-01T12:03:00Z"},
            {"type": "Property", "value": 80, "observedAt": "2020-09-01T12:05:00Z"},
        ],
        "fuelLevel": [
            {"type": "Property", "value": 67, "observedAt": "2020-09-01T12:03:00Z"},
            {
                "type": "Property",
                "value": 53,
                "observedAt": "2020-09-01T12:05:00Z",
                "datasetId": "urn:ngsi-ld:Dataset:fuel",
            },
        ],
    }


async def _history(c: Client) -> dict[str, Any]:
    got = await c.get(BASE)
    assert got.status == 200, got.body
    body: dict[str, Any] = got.body
    return body


async def test_delete_attribute_instances(lite: Client) -> None:
    assert (await lite.post("/temporal/entities", _vehicle())).status == 201
    default = await lite.delete(f"{BASE}/attrs/fuelLevel")
    assert default.status == 204, default.body
    assert [i["value"] for i in (await _history(lite))["fuelLevel"]] == [53]  # the dataset's
    again = await lite.delete(f"{BASE}/attrs/fuelLevel")
    assert again.status == 404 and again.body["type"] == ERR + "ResourceNotFound"
    by_dataset = await lite.call(
        "DELETE", f"{BASE}/attrs/fuelLevel", params={"datasetId": "urn:ngsi-ld:Dataset:fuel"}
    )
    assert by_dataset.status == 204, by_dataset.body
    assert "fuelLevel" not in await _history(lite)
    every = await lite.call("DELETE", f"{BASE}/attrs/speed", params={"deleteAll": "true"})
    assert every.status == 204, every.body
    assert "speed" not in await _history(lite)


async def test_modify_and_delete_one_instance(lite: Client) -> None:
    assert (await lite.post("/temporal/entities", _vehicle())).status == 201
    first = (await _history(lite))["speed"][0]
    patched = await lite.patch(
        f"{BASE}/attrs/speed/{first['instanceId']}",
        {"type": "Property", "value": 129, "observedAt": "2020-09-01T12:03:00Z"},
    )
    assert patched.status == 204, patched.body
    speed = (await _history(lite))["speed"]
    assert (speed[0]["instanceId"], speed[0]["value"]) == (first["instanceId"], 129)
    assert [i["value"] for i in speed] == [129, 80]
    unit_only = await lite.patch(f"{BASE}/attrs/speed/{first['instanceId']}", {"unitCode": "KMH"})
    assert unit_only.status == 204, unit_only.body
    speed = (await _history(lite))["speed"]
    assert speed[0]["value"] == 129 and speed[0]["unitCode"] == "KMH"
    gone = await lite.delete(f"{BASE}/attrs/speed/{first['instanceId']}")
    assert gone.status == 204, gone.body
    assert [i["value"] for i in (await _history(lite))["speed"]] == [80]
    missing = await lite.delete(f"{BASE}/attrs/speed/{first['instanceId']}")
    assert missing.status == 404 and missing.body["type"] == ERR + "ResourceNotFound"


async def test_bad_names_and_ids_change_nothing(lite: Client) -> None:
    assert (await lite.post("/temporal/entities", _vehicle())).status == 201
    before = await _history(lite)
    iid = before["speed"][0]["instanceId"]
    fragment = {"type": "Property", "value": 1}
    for path in (
        f"/temporal/entities/invalidId/attrs/speed/{iid}",
        f"{BASE}/attrs/speed/invalidId",
        f"{BASE}/attrs/invalid(Name/{iid}",
    ):
        for reply in (await lite.delete(path), await lite.patch(path, fragment)):
            assert reply.status == 400, (path, reply.body)
            assert reply.body["type"] == ERR + "BadRequestData", path
    for path in ("/temporal/entities/invalidId/attrs/speed", f"{BASE}/attrs/invalid(Name"):
        reply = await lite.delete(path)
        assert reply.status == 400 and reply.body["type"] == ERR + "BadRequestData", path
    flag = await lite.call("DELETE", f"{BASE}/attrs/speed", params={"deleteAll": "maybe"})
    assert flag.status == 400, flag.body
    assert await _history(lite) == before
