"""What every NGSI-LD handler shares: the broker, the PEP call, path parameters, rendering."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from connector.http.context import CTX
from connector.ngsild.api.negotiation import GEOJSON, Negotiated, with_context
from connector.ngsild.context import TermMap
from connector.ngsild.model import Doc, check_id, check_name
from connector.ngsild.pep import AccessScope, PolicyEnforcementPoint
from connector.ngsild.render import LOCATION, View, render_entity, to_feature
from connector.ngsild.service import Broker

BASE_PATH = "/ngsi-ld/v1"


def broker(request: web.Request) -> Broker:
    b: Broker = request.app[CTX].components["ngsild.broker"]
    return b


def pep(request: web.Request) -> PolicyEnforcementPoint:
    p: PolicyEnforcementPoint = request.app[CTX].components["ngsild.pep"]
    return p


async def enforce(
    request: web.Request, operation: str, target_types: set[str] | None = None
) -> AccessScope:
    """The single gate before storage: ask the PEP for this request's scope."""
    return await pep(request).scope_for(request, operation, target_types)


async def done(request: web.Request, operation: str, scope: AccessScope, **summary: Any) -> None:
    """Tell the PEP the outcome; under an agreement this waits until the access record is
    durable. Handlers answering a page of entities encode it before calling this and let the
    parsed and rendered entities go: kept alive across the wait by every request in flight,
    they made each collection of the cyclic GC (and so the data plane) markedly slower."""
    await pep(request).after(request, operation, scope, summary)


def entity_id(request: web.Request) -> str:
    return check_id(request.match_info["entityId"])


def attr_name(request: web.Request, tm: TermMap) -> str:
    return tm.expand(check_name(request.match_info["attrId"], "attribute"))


def entity_location(eid: str) -> str:
    return f"{BASE_PATH}/entities/{quote(eid, safe=':')}"


def geoproperty(request: web.Request, tm: TermMap) -> str:
    name = request.query.get("geometryProperty")
    return tm.expand(name) if name else LOCATION


def render(neg: Negotiated, doc: Doc, view: View, geo_prop: str) -> dict[str, Any]:
    if neg.accept == GEOJSON:
        # GeoJSON answers carry the @context in the Link header, like application/json.
        return to_feature(doc, render_entity(doc, neg.tm, view), geo_prop, None)
    return with_context(neg, render_entity(doc, neg.tm, view))
