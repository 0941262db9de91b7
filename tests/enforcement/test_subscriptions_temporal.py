"""The narrowed agreement on the subscription and temporal endpoints (mounted by their
components): a forbidden type is refused, an allowed one comes back narrowed, writes refused."""

from __future__ import annotations

from typing import Any

from tests.enforcement.helpers import Provider, air, narrowed_policy

AIR = "urn:ngsi-ld:AirQualityObserved:"


def subscription(entity_type: str) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": entity_type}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }


async def test_subscriptions_are_held_to_the_agreement(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, body, _ = await g.call("POST", "/subscriptions", json=subscription("ParkingSpot"))
    assert status == 403, body
    assert "ParkingSpot is not part of it" in body["detail"]
    status, body, headers = await g.call(
        "POST", "/subscriptions", json=subscription("AirQualityObserved")
    )
    assert status == 201, body
    location = headers["Location"].removeprefix("/ngsi-ld/v1")
    status, body, _ = await g.call("GET", location)
    assert status == 200, body
    # the subscription is stored with the agreement's narrowing as its restriction
    stored = await provider.ctx.components["ngsild.subscriptions"].store.get(body["id"])
    assert stored is not None
    assert stored.restriction.entity_types is not None
    assert all(t.endswith("AirQualityObserved") for t in stored.restriction.entity_types)
    assert stored.restriction.attributes is not None
    assert {a.rsplit("/", 1)[-1] for a in stored.restriction.attributes} == {"NO2", "location"}
    assert stored.restriction.area is not None


async def test_temporal_is_narrowed_and_read_only(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, body, _ = await g.call(
        "GET",
        "/temporal/entities",
        params={"type": "AirQualityObserved", "timerel": "after", "timeAt": "2000-01-01T00:00:00Z"},
    )
    assert status == 200, body
    assert {e["id"] for e in body} <= {AIR + "001", AIR + "002", AIR + "003"}
    assert all(set(e) <= {"id", "type", "NO2", "location"} for e in body), body
    status, body, _ = await g.call(
        "GET",
        "/temporal/entities",
        params={"type": "ParkingSpot", "timerel": "after", "timeAt": "2000-01-01T00:00:00Z"},
    )
    assert status == 403
    status, body, _ = await g.call("GET", "/temporal/entities/urn:ngsi-ld:ParkingSpot:001")
    assert status == 404, body
    status, body, _ = await g.call("POST", "/temporal/entities", json=air(70))
    assert status == 403, body
    status, body, _ = await g.call("DELETE", f"/temporal/entities/{AIR}001")
    assert status == 403, body
