"""The NGSI-LD Null with a datasetId (GS CIM 009 v1.8 §5.5.4, §5.6.17 merge, §5.6.2 update)
deletes only the instance of that datasetId; the other instances of the attribute stay."""

from __future__ import annotations

from typing import Any

from tests.ngsild.conftest import Ngsi

EID = "urn:ngsi-ld:Building:1"
NULL = "urn:ngsi-ld:null"


def _building() -> dict[str, Any]:
    return {
        "id": EID,
        "type": "Building",
        "name": [
            {"type": "Property", "value": "Eiffel Tower", "datasetId": "urn:ngsi-ld:Dataset:01"},
            {"type": "Property", "value": "The iron lady", "datasetId": "urn:ngsi-ld:Dataset:02"},
            {"type": "Property", "value": "default"},
        ],
        "height": {"type": "Property", "value": 300},
    }


async def _names(ngsi: Ngsi) -> list[str]:
    got = await ngsi.get(f"/entities/{EID}")
    assert got.status == 200, got.body
    name = got.body.get("name", [])
    return sorted(i["value"] for i in (name if isinstance(name, list) else [name]))


async def test_merge_and_update_null_by_dataset(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(_building())
    merged = await ngsi_lite.patch(
        f"/entities/{EID}",
        {"name": {"type": "Property", "value": NULL, "datasetId": "urn:ngsi-ld:Dataset:01"}},
    )
    assert merged.status == 204, merged.body
    assert await _names(ngsi_lite) == ["The iron lady", "default"]
    updated = await ngsi_lite.patch(
        f"/entities/{EID}/attrs",
        {"name": {"type": "Property", "value": NULL, "datasetId": "urn:ngsi-ld:Dataset:02"}},
    )
    assert updated.status == 204, updated.body
    assert await _names(ngsi_lite) == ["default"]
    appended = await ngsi_lite.post(
        f"/entities/{EID}/attrs",
        {"name": {"type": "Property", "value": NULL, "datasetId": "urn:ngsi-ld:Dataset:09"}},
    )
    assert appended.status == 400, appended.body  # an append has nothing to delete
    whole = await ngsi_lite.patch(f"/entities/{EID}", {"name": {"type": "Property", "value": NULL}})
    assert whole.status == 204, whole.body
    assert await _names(ngsi_lite) == []
    got = await ngsi_lite.get(f"/entities/{EID}")
    assert got.body["height"]["value"] == 300
