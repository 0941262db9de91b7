"""/types and /attributes (§5.7.5-5.7.10): what kinds of entities and attributes exist.

Answers come from the index tables with the access scope applied in SQL, so a narrowed scope
only ever discovers the types and attributes it may read. The detailed lists
(``details=true``: one EntityType or Attribute object per item) are paginated like entity
queries: ``limit`` (default 20), ``offset``, ``count=true`` for the NGSILD-Results-Count header,
and Link rel="prev"/"next" values; the summary lists are one object and come whole.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from aiohttp import web

from connector.ngsild.api.common import broker, done, enforce
from connector.ngsild.api.entities import COUNT_HEADER
from connector.ngsild.api.negotiation import Negotiated, negotiate, respond, with_context
from connector.ngsild.api.pagination import Window
from connector.ngsild.errors import not_found
from connector.ngsild.model import check_name


def _details(request: web.Request) -> bool:
    return request.query.get("details", "false").lower() == "true"


def _paged(
    request: web.Request, neg: Negotiated, window: Window, items: list[Any], total: int
) -> web.Response:
    headers = {COUNT_HEADER: str(total)} if window.count else {}
    return respond(neg, items, headers=headers, links=window.links(request, total))


async def list_types(request: web.Request) -> web.Response:
    neg = negotiate(request, geo=False)
    scope = await enforce(request, "types.list")
    store = broker(request).store
    tm = neg.tm
    if _details(request):
        window = Window.of(request.query)
        rows = await store.attributes_of_types(None, scope.entity_types, scope.attributes)
        counts = await store.type_counts(scope.entity_types)
        names: dict[str, set[str]] = defaultdict(set)
        for etype, attr, _kind, _n in rows:
            names[etype].add(attr)
        everything = sorted(counts)
        items = [
            with_context(
                neg,
                {
                    "id": t,
                    "type": "EntityType",
                    "typeName": tm.compact(t),
                    "attributeNames": sorted(tm.compact(a) for a in names.get(t, ())),
                },
            )
            for t in window.page(everything)
        ]
        await done(request, "types.list", scope, status=200)
        return _paged(request, neg, window, items, len(everything))
    counts = await store.type_counts(scope.entity_types)
    payload = with_context(
        neg,
        {
            "id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4().hex}",
            "type": "EntityTypeList",
            "typeList": sorted(tm.compact(t) for t in counts),
        },
    )
    await done(request, "types.list", scope, status=200)
    return respond(neg, payload)


async def retrieve_type(request: web.Request) -> web.Response:
    neg = negotiate(request, geo=False)
    tm = neg.tm
    name = tm.expand(check_name(request.match_info["type"], "type"))
    scope = await enforce(request, "types.retrieve", {name})
    store = broker(request).store
    counts = await store.type_counts(scope.entity_types, [name])
    if name not in counts:
        raise not_found(f"no entities of type {request.match_info['type']}")
    rows = await store.attributes_of_types([name], scope.entity_types, scope.attributes)
    kinds: dict[str, set[str]] = defaultdict(set)
    for _t, attr, kind, _n in rows:
        kinds[attr].add(kind)
    payload = with_context(
        neg,
        {
            "id": name,
            "type": "EntityTypeInfo",
            "typeName": tm.compact(name),
            "entityCount": counts[name],
            "attributeDetails": [
                {
                    "id": attr,
                    "type": "Attribute",
                    "attributeName": tm.compact(attr),
                    "attributeTypes": sorted(kinds[attr]),
                }
                for attr in sorted(kinds)
            ],
        },
    )
    await done(request, "types.retrieve", scope, status=200)
    return respond(neg, payload)


async def _attribute_rows(request: web.Request, operation: str) -> tuple[Any, Any, Any]:
    neg = negotiate(request, geo=False)
    scope = await enforce(request, operation)
    rows = await broker(request).store.attributes_of_types(
        None, scope.entity_types, scope.attributes
    )
    return neg, scope, rows


async def list_attributes(request: web.Request) -> web.Response:
    neg, scope, rows = await _attribute_rows(request, "attributes.list")
    tm = neg.tm
    types: dict[str, set[str]] = defaultdict(set)
    for etype, attr, _kind, _n in rows:
        types[attr].add(etype)
    if _details(request):
        window = Window.of(request.query)
        everything = sorted(types)
        items = [
            with_context(
                neg,
                {
                    "id": attr,
                    "type": "Attribute",
                    "attributeName": tm.compact(attr),
                    "typeNames": sorted(tm.compact(t) for t in types[attr]),
                },
            )
            for attr in window.page(everything)
        ]
        await done(request, "attributes.list", scope, status=200)
        return _paged(request, neg, window, items, len(everything))
    payload = with_context(
        neg,
        {
            "id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4().hex}",
            "type": "AttributeList",
            "attributeList": sorted(tm.compact(a) for a in types),
        },
    )
    await done(request, "attributes.list", scope, status=200)
    return respond(neg, payload)


async def retrieve_attribute(request: web.Request) -> web.Response:
    neg, scope, rows = await _attribute_rows(request, "attributes.retrieve")
    tm = neg.tm
    name = tm.expand(check_name(request.match_info["attrId"], "attribute"))
    mine = [r for r in rows if r[1] == name]
    if not mine:
        raise not_found(f"no entity has an attribute {request.match_info['attrId']}")
    payload = with_context(
        neg,
        {
            "id": name,
            "type": "Attribute",
            "attributeName": tm.compact(name),
            "attributeCount": sum(n for _t, _a, _k, n in mine),
            "attributeTypes": sorted({k for _t, _a, k, _n in mine}),
            "typeNames": sorted({tm.compact(t) for t, _a, _k, _n in mine}),
        },
    )
    await done(request, "attributes.retrieve", scope, status=200)
    return respond(neg, payload)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/types", list_types)
    r.add_get("/types/{type}", retrieve_type)
    r.add_get("/attributes", list_attributes)
    r.add_get("/attributes/{attrId}", retrieve_attribute)
