"""Bad subscriptions are refused with the right NGSI-LD Problem, and nothing is stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.ngsild_subscriptions.support import ERR, Client, subscription

GOOD = "http://127.0.0.1:9/notify"


def _without(key: str) -> dict[str, Any]:
    body = subscription(GOOD)
    body.pop(key)
    return body


PAST = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
BAD: list[tuple[str, Any, str]] = [
    ("not an object", [1, 2], "BadRequestData"),
    ("wrong type", {**subscription(GOOD), "type": "Entity"}, "BadRequestData"),
    ("no entities nor watchedAttributes", _without("entities"), "BadRequestData"),
    ("empty entities", subscription(GOOD, entities=[]), "BadRequestData"),
    ("selector without type", subscription(GOOD, entities=[{"id": "urn:x:1"}]), "BadRequestData"),
    (
        "selector id not a URI",
        subscription(GOOD, entities=[{"type": "T", "id": "x y"}]),
        "BadRequestData",
    ),
    (
        "bad idPattern",
        subscription(GOOD, entities=[{"type": "T", "idPattern": "(("}]),
        "BadRequestData",
    ),
    ("no notification", _without("notification"), "BadRequestData"),
    ("endpoint not a URI", subscription("not a uri"), "BadRequestData"),
    ("ftp endpoint", subscription("ftp://127.0.0.1/x"), "BadRequestData"),
    ("disallowed host", subscription("http://169.254.169.254/latest"), "BadRequestData"),
    ("disallowed mqtt host", subscription("mqtt://10.0.0.1:1883/t"), "BadRequestData"),
    ("mqtt wildcard topic", subscription("mqtt://127.0.0.1:1883/a/#"), "BadRequestData"),
    ("bad q", subscription(GOOD, q="NO2>>"), "BadRequestData"),
    (
        "bad geoQ georel",
        subscription(GOOD, geoQ={"georel": "nearby", "geometry": "Point", "coordinates": [1, 2]}),
        "BadRequestData",
    ),
    (
        "geoQ without coordinates",
        subscription(GOOD, geoQ={"georel": "within", "geometry": "Polygon"}),
        "BadRequestData",
    ),
    ("expiresAt in the past", subscription(GOOD, expiresAt=PAST), "BadRequestData"),
    ("expiresAt not a date", subscription(GOOD, expiresAt="tomorrow"), "BadRequestData"),
    (
        "unknown format",
        {**subscription(GOOD), "notification": {"format": "verbose", "endpoint": {"uri": GOOD}}},
        "BadRequestData",
    ),
    (
        "unknown accept",
        {**subscription(GOOD), "notification": {"endpoint": {"uri": GOOD, "accept": "text/html"}}},
        "BadRequestData",
    ),
    ("negative throttling", subscription(GOOD, throttling=-1), "BadRequestData"),
    ("zero timeInterval", subscription(GOOD, timeInterval=0), "BadRequestData"),
    (
        "timeInterval with watchedAttributes",
        subscription(GOOD, timeInterval=5, watchedAttributes=["NO2"]),
        "BadRequestData",
    ),
    (
        "unknown trigger",
        subscription(GOOD, notificationTrigger=["entityExploded"]),
        "BadRequestData",
    ),
    (
        "bad receiverInfo",
        {
            **subscription(GOOD),
            "notification": {
                "endpoint": {"uri": GOOD, "receiverInfo": [{"key": "X\r\nY", "value": "v"}]}
            },
        },
        "BadRequestData",
    ),
    ("unknown member", subscription(GOOD, colour="blue"), "BadRequestData"),
]


async def test_bad_subscriptions_are_problems_and_not_stored(lite: Client) -> None:
    # one connector for all cases: each case is one request
    for why, body, kind in BAD:
        reply = await lite.post("/subscriptions", body)
        assert reply.status == 400, (why, reply.body)
        assert reply.body["type"] == ERR + kind, why
        assert reply.headers["Content-Type"].startswith("application/problem+json")
    listed = await lite.get("/subscriptions", count="true")
    assert listed.body == [] and listed.headers["NGSILD-Results-Count"] == "0"


async def test_malformed_json_and_media_type(lite: Client) -> None:
    r = await lite.call("POST", "/subscriptions", None, headers={"Content-Type": "text/plain"})
    assert r.status == 415
    async with lite.http.post(
        lite.url + "/subscriptions",
        data=b"{nope",
        headers={"Authorization": f"Bearer {lite.admin_key}", "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json(content_type=None))["type"] == ERR + "InvalidRequest"


async def test_duplicate_id_conflicts_and_unknown_id_is_not_found(lite: Client) -> None:
    body = subscription(GOOD, id="urn:ngsi-ld:Subscription:one")
    assert (await lite.post("/subscriptions", body)).status == 201
    again = await lite.post("/subscriptions", body)
    assert again.status == 409 and again.body["type"] == ERR + "AlreadyExists"
    missing = await lite.get("/subscriptions/urn:ngsi-ld:Subscription:none")
    assert missing.status == 404 and missing.body["type"] == ERR + "ResourceNotFound"
    bad_id = await lite.get("/subscriptions/not%20a%20uri")
    assert bad_id.status == 400 and bad_id.body["type"] == ERR + "BadRequestData"
    assert (await lite.delete("/subscriptions/urn:ngsi-ld:Subscription:none")).status == 404


async def test_bad_patch_leaves_the_subscription_unchanged(lite: Client) -> None:
    body = subscription(GOOD, id="urn:ngsi-ld:Subscription:p", q="NO2>40")
    assert (await lite.post("/subscriptions", body)).status == 201
    path = "/subscriptions/urn:ngsi-ld:Subscription:p"
    for fragment in (
        {"q": "NO2>>"},
        {"notification": {"endpoint": {"uri": "http://evil.example/x"}}},
        {"expiresAt": PAST},
        {"entities": None},
        {"timesSent": 3},
        {"id": "urn:ngsi-ld:Subscription:other"},
    ):
        reply = await lite.patch(path, fragment)
        assert reply.status == 400, (fragment, reply.body)
        assert reply.body["type"] == ERR + "BadRequestData"
    got = (await lite.get(path)).body
    assert got["q"] == "NO2>40"
    assert got["notification"]["endpoint"]["uri"] == GOOD
    assert got["entities"] == [{"type": "AirQualityObserved"}]


async def test_unauthenticated_calls_are_refused(lite: Client) -> None:
    reply = await lite.call("POST", "/subscriptions", subscription(GOOD), admin=False)
    assert reply.status == 401
    assert (await lite.call("GET", "/subscriptions", admin=False)).status == 401
    assert (await lite.get("/subscriptions")).body == []
