"""The datasetId parameter (GS CIM 009 v1.8 §4.5.5, §6.4.3.2, §6.5.3.1, §6.18.3.2): only the
instances of the listed datasetIds are shown, ``@none`` naming the default instance; an
attribute without such an instance is left out (a temporal entity without any, too)."""

from __future__ import annotations

from typing import Any

from tests.ngsild.conftest import Ngsi

EID = "urn:ngsi-ld:Building:1"
FR, DE = "urn:ngsi-ld:Dataset:fr", "urn:ngsi-ld:Dataset:de"


def _building() -> dict[str, Any]:
    return {
        "id": EID,
        "type": "Building",
        "name": [
            {"type": "Property", "value": "Eiffel Tower"},
            {"type": "Property", "value": "Tour Eiffel", "datasetId": FR},
            {"type": "Property", "value": "Eiffelturm", "datasetId": DE},
        ],
        "height": {"type": "Property", "value": 300},
    }


def _values(attr: Any) -> list[Any]:
    return sorted(i["value"] for i in (attr if isinstance(attr, list) else [attr]))


async def test_dataset_filter_on_entities_and_histories(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(_building())
    fr = await ngsi_lite.get(f"/entities/{EID}", datasetId=FR)
    assert fr.status == 200, fr.body
    assert fr.body["name"] == {"type": "Property", "value": "Tour Eiffel", "datasetId": FR}
    assert "height" not in fr.body
    two = await ngsi_lite.get("/entities", type="Building", datasetId=f"{FR},{DE}")
    assert _values(two.body[0]["name"]) == ["Eiffelturm", "Tour Eiffel"]
    default = await ngsi_lite.get(f"/entities/{EID}", datasetId="@none")
    assert _values(default.body["name"]) == ["Eiffel Tower"]
    assert default.body["height"]["value"] == 300
    none = await ngsi_lite.get(f"/entities/{EID}", attrs="height", datasetId=FR)
    assert none.status == 200 and set(none.body) == {"id", "type"}
    bad = await ngsi_lite.get(f"/entities/{EID}", datasetId="not a uri")
    assert bad.status == 400, bad.body

    window = {"type": "Building", "timerel": "after", "timeAt": "1970-01-01T00:00:00Z"}
    history = await ngsi_lite.get(
        "/temporal/entities", datasetId=DE, timeproperty="createdAt", **window
    )
    assert history.status == 200, history.body
    assert [i["value"] for i in history.body[0]["name"]] == ["Eiffelturm"]
    assert "height" not in history.body[0]
    nothing = await ngsi_lite.get(
        "/temporal/entities",
        datasetId="urn:ngsi-ld:Dataset:es",
        timeproperty="createdAt",
        **window,
    )
    assert nothing.status == 200 and nothing.body == []
