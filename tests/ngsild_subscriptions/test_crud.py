"""Create, list (limit/offset/count), retrieve, update and delete; stored across restarts on
both engines."""

from __future__ import annotations

from pathlib import Path

from tests.ngsild_subscriptions.support import (
    Client,
    Receiver,
    air,
    make_participant,
    serving,
    settle,
    subscription,
)

CTX = "https://smartdatamodels.org/context.jsonld"


async def test_crud_and_pagination(broker: Client) -> None:
    ids = [f"urn:ngsi-ld:Subscription:{i}" for i in range(5)]
    for sid in ids:
        body = subscription("http://127.0.0.1:9/n", id=sid, subscriptionName=sid[-1])
        assert (await broker.post("/subscriptions", body)).status == 201
    page = await broker.get("/subscriptions", limit="2", offset="1", count="true")
    assert page.status == 200
    assert [s["id"] for s in page.body] == ids[1:3]
    assert page.headers["NGSILD-Results-Count"] == "5"
    assert (await broker.get("/subscriptions", limit="0")).status == 400
    assert (await broker.get("/subscriptions", limit="x")).status == 400

    one = await broker.get(f"/subscriptions/{ids[0]}", options="sysAttrs")
    assert one.body["type"] == "Subscription"
    assert one.body["isActive"] is True and one.body["status"] == "active"
    assert one.body["notification"]["format"] if "format" in one.body["notification"] else True
    assert one.body["createdAt"] <= one.body["modifiedAt"]

    r = await broker.patch(f"/subscriptions/{ids[0]}", {"q": "NO2>10", "throttling": 5})
    assert r.status == 204
    one = await broker.get(f"/subscriptions/{ids[0]}")
    assert one.body["q"] == "NO2>10" and one.body["throttling"] == 5
    r = await broker.patch(f"/subscriptions/{ids[0]}", {"throttling": None})
    assert r.status == 204
    assert "throttling" not in (await broker.get(f"/subscriptions/{ids[0]}")).body

    assert (await broker.delete(f"/subscriptions/{ids[0]}")).status == 204
    assert (await broker.get(f"/subscriptions/{ids[0]}")).status == 404
    assert (await broker.get("/subscriptions", count="true")).headers["NGSILD-Results-Count"] == "4"


async def test_ld_json_subscription_keeps_its_context(broker: Client) -> None:
    body = {
        **subscription("http://127.0.0.1:9/n", id="urn:ngsi-ld:Subscription:ld"),
        "@context": CTX,
    }
    reply = await broker.post("/subscriptions", body, ctype="application/ld+json")
    assert reply.status == 201, reply.body
    got = await broker.call(
        "GET",
        "/subscriptions/urn:ngsi-ld:Subscription:ld",
        headers={"Accept": "application/ld+json"},
    )
    assert got.body["@context"] == CTX
    plain = await broker.get("/subscriptions/urn:ngsi-ld:Subscription:ld")
    assert CTX in plain.headers["Link"]


async def test_subscriptions_survive_a_restart(db_url: str, tmp_path: Path) -> None:
    directory = make_participant(tmp_path, db_url)
    receiver = Receiver()
    await receiver.start()
    try:
        async with serving(directory) as first:
            body = subscription(receiver.url, id="urn:ngsi-ld:Subscription:keep", q="NO2>40")
            assert (await first.post("/subscriptions", body)).status == 201
        async with serving(directory) as second:
            assert (await second.get("/subscriptions/urn:ngsi-ld:Subscription:keep")).status == 200
            await second.post("/entities", air(1, no2=41))
            [note] = await receiver.wait_for(1)
            assert note["subscriptionId"] == "urn:ngsi-ld:Subscription:keep"
    finally:
        await receiver.stop()


async def test_throttling_holds_across_a_restart(tmp_path: Path) -> None:
    directory = make_participant(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'thr.db'}")
    receiver = Receiver()
    await receiver.start()
    try:
        async with serving(directory) as first:
            body = subscription(receiver.url, throttling=60)
            assert (await first.post("/subscriptions", body)).status == 201
            await first.post("/entities", air(1))
            await receiver.wait_for(1)
            await settle()  # the delivery is recorded
        async with serving(directory) as second:
            await second.patch("/entities/urn:ngsi-ld:AirQualityObserved:001/attrs", {"NO2": 9})
            await settle()
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()
