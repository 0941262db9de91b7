"""POST /temporal/entityOperations/query (GS CIM 009 v1.8 §5.7.4, §6.24): the Query body with a
temporalQ (§5.2.21) selects and windows the history as the GET query's parameters do, and its
members are checked as strictly (BadRequestData)."""

from __future__ import annotations

from typing import Any

from tests.ngsild_subscriptions.support import ERR, Client

PATH = "/temporal/entityOperations/query"
T = ["2025-03-04T10:00:00Z", "2025-03-04T11:00:00Z", "2025-03-04T12:00:00Z"]


def _history(n: int, etype: str) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:{etype}:{n}",
        "type": etype,
        "speed": [
            {"type": "Property", "value": v, "observedAt": t}
            for v, t in zip((1, 2, 3), T, strict=True)
        ],
    }


def _query(temporal: dict[str, Any], *types: str) -> dict[str, Any]:
    return {"type": "Query", "entities": [{"type": t} for t in types], "temporalQ": temporal}


async def test_post_query_selects_and_windows_like_get(lite: Client) -> None:
    for n, etype in ((1, "Vehicle"), (2, "Bus"), (3, "Tram")):
        assert (await lite.post("/temporal/entities", _history(n, etype))).status == 201
    after = await lite.post(PATH, _query({"timerel": "after", "timeAt": T[1]}, "Vehicle"))
    assert after.status == 200, after.body
    assert [e["id"] for e in after.body] == ["urn:ngsi-ld:Vehicle:1"]
    assert [i["value"] for i in after.body[0]["speed"]] == [2, 3]  # after is inclusive (§4.11)
    two = await lite.post(PATH, _query({"timerel": "before", "timeAt": T[1]}, "Vehicle", "Bus"))
    assert two.status == 200, two.body
    assert sorted(e["id"] for e in two.body) == ["urn:ngsi-ld:Bus:2", "urn:ngsi-ld:Vehicle:1"]
    assert all([i["value"] for i in e["speed"]] == [1] for e in two.body)
    last = await lite.post(PATH, _query({"timerel": "after", "timeAt": T[0], "lastN": 1}, "Bus"))
    assert [i["value"] for i in last.body[0]["speed"]] == [3]
    every = _query({}, "Vehicle", "Bus", "Tram")
    paged = await lite.call("POST", PATH, every, params={"limit": "1"})
    assert paged.status == 200 and len(paged.body) == 1


BAD: list[dict[str, Any]] = [
    {"timerel": "after", "timeAt": T[0], "lastN": 0},
    {"timerel": "after", "timeAt": T[0], "lastN": 1.5},
    {"timerel": "during", "timeAt": T[0]},
    {"timerel": "between", "timeAt": T[0]},
    {"timerel": "after", "timeAt": T[0], "timeproperty": "seenAt"},
    {"timerel": "after", "timeAt": T[0], "aggrMethods": ["avg"], "aggrPeriodDuration": "bogus"},
    {"timerel": "after", "timeAt": T[0], "aggrMethods": ["mean"]},
    {"timerel": "after", "timeAt": 20250304},
]


async def test_bad_temporal_query_bodies_are_bad_request_data(lite: Client) -> None:
    for temporal in BAD:
        reply = await lite.post(PATH, _query(temporal, "Vehicle"))
        assert reply.status == 400, (temporal, reply.body)
        assert reply.body["type"] == ERR + "BadRequestData", temporal
    bodies: list[Any] = [[], {"type": "Subscription"}, {"type": "Query", "temporalQ": []}]
    for body in bodies:
        reply = await lite.post(PATH, body)
        assert reply.status == 400 and reply.body["type"] == ERR + "BadRequestData", body
