"""Invalid temporal query parameters are BadRequestData Problems."""

from __future__ import annotations

from tests.ngsild_subscriptions.support import ERR, Client

BAD: list[dict[str, str]] = [
    {"type": "T", "timerel": "after"},  # no timeAt
    {"type": "T", "timerel": "before", "timeAt": "not-a-date"},
    {"type": "T", "timerel": "after", "timeAt": "2025-13-01T00:00:00Z"},
    {"type": "T", "timerel": "after", "timeAt": "2025-01-01"},  # no time part
    {"type": "T", "timerel": "between", "timeAt": "2025-01-01T00:00:00Z"},  # no endTimeAt
    {
        "type": "T",
        "timerel": "between",
        "timeAt": "2025-01-02T00:00:00Z",
        "endTimeAt": "2025-01-01T00:00:00Z",
    },
    {"type": "T", "timerel": "around", "timeAt": "2025-01-01T00:00:00Z"},
    {"type": "T", "timeAt": "2025-01-01T00:00:00Z"},  # timeAt without timerel
    {"type": "T", "timeproperty": "deletedAt"},
    {"type": "T", "lastN": "0"},
    {"type": "T", "lastN": "-3"},
    {"type": "T", "options": "aggregatedValues"},
    {"type": "T", "aggrMethods": "avg,median"},  # §4.5.19 knows no median
    {"type": "T", "aggrMethods": "avg", "aggrPeriodDuration": "bogus"},
    {"type": "T", "aggrPeriodDuration": "PT"},  # a duration needs a figure
    {"type": "T", "q": "NO2>>1"},
    {"type": "T", "georel": "near", "geometry": "Point", "coordinates": "[1,2]"},
    {"type": "T", "limit": "many"},
    {"timerel": "after", "timeAt": "2025-01-01T00:00:00Z"},  # no entity filter
    {"id": "not a uri"},
]


async def test_bad_parameters_are_problems(lite: Client) -> None:
    for params in BAD:
        reply = await lite.get("/temporal/entities", **params)
        assert reply.status == 400, (params, reply.body)
        assert reply.body["type"] == ERR + "BadRequestData", params
    one = await lite.get("/temporal/entities/urn:x:1", timerel="after")
    assert one.status == 400 and one.body["type"] == ERR + "BadRequestData"
    unknown = await lite.get("/temporal/entities/urn:x:1")
    assert unknown.status == 404 and unknown.body["type"] == ERR + "ResourceNotFound"
    assert (
        await lite.call("GET", "/temporal/entities", admin=False, params={"type": "T"})
    ).status == 401
