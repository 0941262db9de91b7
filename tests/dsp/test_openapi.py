"""The management API's OpenAPI 3.1 document covers every route we serve under /api/v1."""

from __future__ import annotations

import pytest

from connector.dsp.management import ROUTES
from connector.management.api import MANAGEMENT_APP
from connector.trust.membership import ROUTES as TRUST_ROUTES
from tests.dsp.helpers import Node

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_openapi_lists_every_management_route(shared: tuple[Node, Node]) -> None:
    city, _ = shared
    status, doc = await city.admin("GET", "/openapi.json")
    assert status == 200
    assert doc["openapi"].startswith("3.1")
    for method, path, _, _ in [*ROUTES, *TRUST_ROUTES]:
        assert method.lower() in doc["paths"][path], path
    assert "get" in doc["paths"]["/participant"]
    assert "put" in doc["paths"]["/participant/profile"]
    assert city.connector.app is not None
    management = city.connector.app[MANAGEMENT_APP]
    served = {
        (r.method, r.resource.canonical.removeprefix("/api/v1"))
        for r in management.router.routes()
        if r.resource is not None and r.method != "HEAD"
    }
    ours = {(m, p) for m, p, _, _ in [*ROUTES, *TRUST_ROUTES]} | {
        ("GET", "/participant"),
        ("PUT", "/participant/profile"),
    }
    assert ours <= served, sorted(ours - served)
    schemas = doc["components"]["schemas"]
    assert "entityTypes" in schemas["DatasetIn"]["properties"]
