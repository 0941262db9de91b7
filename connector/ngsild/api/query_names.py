"""The URI query parameters each NGSI-LD operation accepts (GS CIM 009 v1.8, clause 6).

A parameter the operation does not define is the client's mistake (§6.3.20: 400 InvalidRequest),
not something to ignore silently: a misspelt ``tyep=Building`` would otherwise return every
entity. The tables list the names of the specification's resource clauses; the values are
checked by the handlers' own parsers. The check runs in the broker's middleware before the
handler, keyed by the matched route, so a request without a query string costs one test.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from connector.ngsild.errors import invalid_request

# distributed operations (§6.3.18, §6.3.21): accepted everywhere a broker forwards
_DISTRIBUTED = frozenset({"local", "via"})
_PAGE = frozenset({"limit", "offset", "count"})
_FORMAT = frozenset({"options", "format", "lang"})
_PROJECTION = frozenset({"attrs", "pick", "omit", "geometryProperty", "datasetId"})
_LINKED = frozenset({"join", "joinLevel", "containedBy", "entityMap", "splitEntities"})
_SELECTION = frozenset(
    {
        "id",
        "idPattern",
        "type",
        "q",
        "csf",
        "georel",
        "geometry",
        "coordinates",
        "geoproperty",
        "scopeQ",
        "orderBy",
        "collation",
    }
)
_TEMPORAL = frozenset(
    {
        "timerel",
        "timeAt",
        "endTimeAt",
        "timeproperty",
        "lastN",
        "aggrMethods",
        "aggrPeriodDuration",
    }
)
_NONE: frozenset[str] = frozenset()

#: (method, path below /ngsi-ld/v1 without a trailing slash) -> accepted parameter names
ACCEPTED: Mapping[tuple[str, str], frozenset[str]] = {
    ("POST", "/entities"): _DISTRIBUTED,
    ("GET", "/entities"): _SELECTION | _PROJECTION | _FORMAT | _PAGE | _LINKED | _DISTRIBUTED,
    ("GET", "/entities/{entityId}"): (
        frozenset({"type"}) | _PROJECTION | _FORMAT | _LINKED | _DISTRIBUTED
    ),
    ("PUT", "/entities/{entityId}"): frozenset({"type", "options"}) | _DISTRIBUTED,
    ("PATCH", "/entities/{entityId}"): (
        frozenset({"type", "options", "format", "observedAt", "lang"}) | _DISTRIBUTED
    ),
    ("DELETE", "/entities"): (
        frozenset({"id", "idPattern", "type", "q", "attrs", "keep", "drop", "scopeQ"})
        | frozenset({"georel", "geometry", "coordinates", "geoproperty"})
        | _DISTRIBUTED
    ),
    ("DELETE", "/entities/{entityId}"): frozenset({"type"}) | _DISTRIBUTED,
    ("POST", "/entities/{entityId}/attrs"): frozenset({"type", "options"}) | _DISTRIBUTED,
    ("PATCH", "/entities/{entityId}/attrs"): frozenset({"type", "options"}) | _DISTRIBUTED,
    ("PATCH", "/entities/{entityId}/attrs/{attrId}"): (
        frozenset({"type", "lang", "options"}) | _DISTRIBUTED
    ),
    ("PUT", "/entities/{entityId}/attrs/{attrId}"): (
        frozenset({"type", "lang", "options"}) | _DISTRIBUTED
    ),
    ("DELETE", "/entities/{entityId}/attrs/{attrId}"): (
        frozenset({"type", "datasetId", "deleteAll", "lang"}) | _DISTRIBUTED
    ),
    ("POST", "/entityOperations/create"): _DISTRIBUTED,
    ("POST", "/entityOperations/upsert"): frozenset({"options"}) | _DISTRIBUTED,
    ("POST", "/entityOperations/update"): frozenset({"options"}) | _DISTRIBUTED,
    ("POST", "/entityOperations/delete"): _DISTRIBUTED,
    ("POST", "/entityOperations/merge"): frozenset({"options"}) | _DISTRIBUTED,
    ("POST", "/entityOperations/query"): _FORMAT | _PAGE | _LINKED | _DISTRIBUTED,
    ("GET", "/types"): frozenset({"details"}) | _PAGE | _DISTRIBUTED,
    ("GET", "/types/{type}"): _DISTRIBUTED,
    ("GET", "/attributes"): frozenset({"details"}) | _PAGE | _DISTRIBUTED,
    ("GET", "/attributes/{attrId}"): _DISTRIBUTED,
    ("POST", "/subscriptions"): _NONE,
    ("GET", "/subscriptions"): _PAGE | frozenset({"options"}),
    ("GET", "/subscriptions/{subscriptionId}"): frozenset({"options"}),
    ("PATCH", "/subscriptions/{subscriptionId}"): _NONE,
    ("DELETE", "/subscriptions/{subscriptionId}"): _NONE,
    ("POST", "/temporal/entities"): _DISTRIBUTED,
    ("GET", "/temporal/entities"): (
        _SELECTION | _PROJECTION | _FORMAT | _PAGE | _TEMPORAL | _DISTRIBUTED
    ),
    ("GET", "/temporal/entities/{entityId}"): (
        frozenset({"type"}) | _PROJECTION | _FORMAT | _TEMPORAL | _DISTRIBUTED
    ),
    ("DELETE", "/temporal/entities/{entityId}"): frozenset({"type"}) | _DISTRIBUTED,
    ("POST", "/temporal/entities/{entityId}/attrs"): _DISTRIBUTED,
    ("POST", "/temporal/entityOperations/query"): _FORMAT | _PAGE | _DISTRIBUTED,
    ("DELETE", "/temporal/entities/{entityId}/attrs/{attrId}"): (
        frozenset({"datasetId", "deleteAll"}) | _DISTRIBUTED
    ),
    ("PATCH", "/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}"): _DISTRIBUTED,
    ("DELETE", "/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}"): _DISTRIBUTED,
}

ROUTE_NAMES = web.AppKey("ngsild.query_names", dict)


def index_routes(app: web.Application) -> None:
    """Map every route of the broker's sub-application to its accepted names (before mounting)."""
    index: dict[web.AbstractRoute, frozenset[str]] = {}
    for route in app.router.routes():
        method = "GET" if route.method == "HEAD" else route.method
        path = route.resource.canonical.rstrip("/") if route.resource is not None else ""
        accepted = ACCEPTED.get((method, path))
        if accepted is not None:
            index[route] = accepted
    app[ROUTE_NAMES] = index


def check_query_names(request: web.Request) -> None:
    """400 InvalidRequest naming the parameters the matched operation does not define."""
    if not request.query_string:
        return
    accepted = request.app[ROUTE_NAMES].get(request.match_info.route)
    if accepted is None:
        return
    unknown = [name for name in request.query if name not in accepted]
    if unknown:
        known = ", ".join(sorted(accepted)) or "none"
        raise invalid_request(
            f"unknown query parameters {sorted(set(unknown))} for {request.method} "
            f"{request.path}; this operation accepts: {known}"
        )
