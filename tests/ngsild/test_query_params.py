"""A URI parameter the operation does not define is 400 InvalidRequest (GS CIM 009 v1.8 §6.3.20),
never silently ignored (a misspelt ``tyep`` would otherwise widen a query to every entity)."""

from __future__ import annotations

import pytest
from aiohttp import web

from connector.ngsild.api import batch, discovery, entities
from connector.ngsild.api.query_names import ACCEPTED
from connector.ngsild.component import add_slash_aliases
from connector.ngsild.subscriptions import api as subscriptions_api
from connector.ngsild.temporal import api as temporal_api
from tests.ngsild.conftest import Ngsi, air

ERR = "https://uri.etsi.org/ngsi-ld/errors/InvalidRequest"
EID = "urn:ngsi-ld:AirQualityObserved:001"


async def _stored_ids(ngsi: Ngsi) -> list[str]:
    reply = await ngsi.get("/entities", idPattern=".*")
    return [e["id"] for e in reply.body]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/entities"),
        ("GET", f"/entities/{EID}"),
        ("GET", "/types"),
        ("GET", "/attributes"),
        ("GET", "/subscriptions"),
        ("GET", "/temporal/entities"),
        ("DELETE", f"/entities/{EID}"),
    ],
)
async def test_unknown_parameter_is_invalid_request(
    ngsi_lite: Ngsi, method: str, path: str
) -> None:
    await ngsi_lite.create(air(1))
    params = {"invalidParams": "invalidValue"}
    if path.endswith("/entities"):
        params["type"] = "AirQualityObserved"
    reply = await ngsi_lite.call(method, path, params=params)
    assert reply.status == 400, reply.body
    assert reply.body["type"] == ERR
    assert "invalidParams" in reply.body["detail"]
    assert await _stored_ids(ngsi_lite) == [EID]  # the DELETE did not happen


async def test_create_with_unknown_parameter_stores_nothing(ngsi_lite: Ngsi) -> None:
    reply = await ngsi_lite.call("POST", "/entities", air(1), params={"invalidParams": "x"})
    assert reply.status == 400 and reply.body["type"] == ERR
    assert await _stored_ids(ngsi_lite) == []
    temporal = await ngsi_lite.call(
        "POST", "/temporal/entities", air(1), params={"invalidParams": "x"}
    )
    assert temporal.status == 400 and temporal.body["type"] == ERR
    assert await _stored_ids(ngsi_lite) == []


async def test_subscription_with_unknown_parameter_is_not_created(ngsi_lite: Ngsi) -> None:
    sub = {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    reply = await ngsi_lite.call("POST", "/subscriptions", sub, params={"invalidParams": "x"})
    assert reply.status == 400 and reply.body["type"] == ERR
    listed = await ngsi_lite.get("/subscriptions")
    assert listed.body == []


async def test_defined_parameters_still_work(ngsi_lite: Ngsi) -> None:
    await ngsi_lite.create(air(1))
    reply = await ngsi_lite.get(
        "/entities", type="AirQualityObserved", attrs="NO2", options="keyValues", limit="5"
    )
    assert reply.status == 200, reply.body
    assert reply.body == [{"id": EID, "type": "AirQualityObserved", "NO2": 40}]


def test_every_route_has_a_parameter_table() -> None:
    """A new route must say which parameters it accepts; otherwise it would accept any."""
    app = web.Application()
    for module in (entities, batch, discovery, subscriptions_api, temporal_api):
        module.add_routes(app)
    add_slash_aliases(app)
    missing = []
    for route in app.router.routes():
        method = "GET" if route.method == "HEAD" else route.method
        path = route.resource.canonical.rstrip("/") if route.resource else ""
        if (method, path) not in ACCEPTED:
            missing.append((method, path))
    assert missing == []


@pytest.mark.parametrize(
    "params",
    [
        {"options": "notAnOption"},
        {"options": "keyValues,notAnOption"},
        {"format": "notAFormat"},
    ],
)
async def test_bad_options_or_format_is_invalid_request(
    ngsi_lite: Ngsi, params: dict[str, str]
) -> None:
    """§6.3.7: options and format take only the listed values; anything else is the request's
    error (InvalidRequest), not the data's."""
    await ngsi_lite.create(air(1))
    for path in (f"/entities/{EID}", "/entities?type=AirQualityObserved"):
        reply = await ngsi_lite.call("GET", path, params=params)
        assert reply.status == 400, reply.body
        assert reply.body["type"] == ERR
    temporal = await ngsi_lite.call(
        "GET", "/temporal/entities", params={"type": "AirQualityObserved", **params}
    )
    assert temporal.status == 400 and temporal.body["type"] == ERR


async def test_core_context_v1_9_is_known(ngsi_lite: Ngsi) -> None:
    """A body naming the v1.9 core context is processed offline, not LdContextNotAvailable."""
    entity = {
        **air(3),
        "@context": ["https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld"],
    }
    reply = await ngsi_lite.post("/entities", entity, ctype="application/ld+json")
    assert reply.status == 201, reply.body
    assert await _stored_ids(ngsi_lite) == ["urn:ngsi-ld:AirQualityObserved:003"]
