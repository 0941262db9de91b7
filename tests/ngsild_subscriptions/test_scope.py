"""A narrowed access scope travels with the subscription: notifications never show more than
the creator could query (types, attributes, area), and consumers only see their own
subscriptions."""

from __future__ import annotations

from typing import Any

from tests.ngsild_subscriptions.support import (
    CONSUMER,
    Client,
    ConsumerPep,
    Receiver,
    air,
    settle,
    subscription,
)


async def test_narrowed_scope_limits_notifications(lite: Client, receiver: Receiver) -> None:
    pep = ConsumerPep()
    assert lite.connector.ctx is not None
    lite.connector.ctx.components["ngsild.pep"] = pep
    # the stand-in PEP replaces the agreement-based one, and so does away with its guard
    lite.connector.ctx.components.pop("ngsild.notification_guard", None)
    consumer = {"Authorization": f"Bearer {CONSUMER}"}

    async def subscribe(body: dict[str, Any]) -> str:
        r = await lite.call("POST", "/subscriptions", body, admin=False, headers=consumer)
        assert r.status == 201, r.body
        return str(r.headers["Location"].rsplit("/", 1)[1])

    everything = await subscribe(subscription(receiver.url))
    # a q on a hidden attribute can never match; a hidden type never notifies
    await subscribe(subscription(receiver.url, q="temperature>0"))
    await subscribe({**subscription(receiver.url), "entities": [{"type": "WeatherObserved"}]})
    await subscribe(
        {**subscription(receiver.url), "entities": None, "watchedAttributes": ["temperature"]}
        | {"entities": [{"type": "AirQualityObserved"}]}
    )
    assert "subscription.create" in pep.seen

    await lite.post("/entities", air(1, no2=50))  # inside the area
    await lite.post("/entities", air(2, no2=50, lon=-3.70, lat=40.41))  # Madrid: outside
    await lite.post(
        "/entities",
        {
            "id": "urn:ngsi-ld:WeatherObserved:1",
            "type": "WeatherObserved",
            "temperature": {"type": "Property", "value": 30},
        },
    )
    notes = await receiver.wait_for(1)
    # only a temperature change of station 1: the hidden attribute must not trigger anything
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"temperature": 35})
    await settle()
    assert len(receiver.received) == 1
    [note] = notes
    assert note["subscriptionId"] == everything
    [entity] = note["data"]
    assert entity["id"] == "urn:ngsi-ld:AirQualityObserved:001"
    assert set(entity) == {"id", "type", "NO2", "location"}

    # the consumer lists only its own subscriptions; the admin sees them all
    await lite.post("/subscriptions", subscription(receiver.url, id="urn:ngsi-ld:Subscription:adm"))
    mine = await lite.call("GET", "/subscriptions", admin=False, headers=consumer)
    assert len(mine.body) == 4
    assert all(s["id"] != "urn:ngsi-ld:Subscription:adm" for s in mine.body)
    other = await lite.call(
        "GET", "/subscriptions/urn:ngsi-ld:Subscription:adm", admin=False, headers=consumer
    )
    assert other.status == 404
    assert len((await lite.get("/subscriptions")).body) == 5


class Switch:
    """A notification guard that the test turns on and off (access revoked, then restored)."""

    def __init__(self) -> None:
        self.open = False
        self.asked: list[tuple[str, str]] = []

    async def allow(self, subscription_id: str, owner: str, restriction: object) -> bool:
        self.asked.append((subscription_id, owner))
        return self.open


async def test_notification_guard_can_suppress_notifications(
    lite: Client, receiver: Receiver
) -> None:
    guard = Switch()
    assert lite.connector.ctx is not None
    lite.connector.ctx.components["ngsild.notification_guard"] = guard
    r = await lite.post(
        "/subscriptions", subscription(receiver.url, id="urn:ngsi-ld:Subscription:g")
    )
    assert r.status == 201
    await lite.post("/entities", air(1))
    await settle()
    assert receiver.received == []
    assert guard.asked and guard.asked[0][0] == "urn:ngsi-ld:Subscription:g"
    guard.open = True
    await lite.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 41})
    await receiver.wait_for(1)
