"""/entities and /entities/{id}/attrs: create, retrieve, query, replace, merge, delete."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.ngsild import service as ops
from connector.ngsild.api.common import (
    attr_name,
    broker,
    done,
    enforce,
    entity_id,
    entity_location,
    geoproperty,
    render,
)
from connector.ngsild.api.linked import Linker, join_of
from connector.ngsild.api.negotiation import (
    GEOJSON,
    body_context,
    negotiate,
    read_body,
    respond,
)
from connector.ngsild.api.pagination import page_links
from connector.ngsild.api.params import options, plan_for, selection_from_params, view_for
from connector.ngsild.errors import bad_data, too_many
from connector.ngsild.model import (
    DROP_DATASETS,
    Doc,
    check_id,
    parse_attribute,
    parse_entity,
    parse_fragment,
)
from connector.ngsild.query.order import MAX_ORDERED, OrderItem, parse_order_by, sort_docs
from connector.ngsild.store import QueryPlan

COUNT_HEADER = "NGSILD-Results-Count"


async def create_entity(request: web.Request) -> web.Response:
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    doc = parse_entity(body, neg.tm, ops.stamp())
    scope = await enforce(request, "entity.create", set(doc["type"]))
    await broker(request).apply_one(doc["id"], ops.create(doc), scope)
    await done(request, "entity.create", scope, status=201, ids=[doc["id"]])
    return web.Response(status=201, headers={"Location": entity_location(doc["id"])})


async def retrieve_entity(request: web.Request) -> web.Response:
    eid = entity_id(request)
    neg = negotiate(request)
    scope = await enforce(request, "entity.retrieve")
    view = view_for(request.query, neg.tm, scope)
    join, level = join_of(request.query)
    doc = await broker(request).get(eid, scope)
    item = render(neg, doc, view, geoproperty(request, neg.tm))
    payload: Any = item
    if join is not None and neg.accept != GEOJSON:
        linker = Linker(broker(request), scope)
        await linker.load([doc], level)
        if join == "inline":
            linker.inline(neg, view, doc, item, level)
        else:  # flat: the entity first, then the entities it links to (if any)
            linked = linker.flat(neg, view, [doc], [item], level)
            payload = [item, *linked] if linked else item
    answer = respond(neg, payload)
    size = len(answer.body) if isinstance(answer.body, bytes) else 0
    await done(request, "entity.retrieve", scope, status=200, ids=[eid], bytes=size)
    return answer


async def query_entities(request: web.Request) -> web.Response:
    neg = negotiate(request)
    scope = await enforce(request, "entities.query")
    view = view_for(request.query, neg.tm, scope)
    plan = plan_for(selection_from_params(request.query), request.query, neg.tm, scope)
    join, level = join_of(request.query)
    limit, offset = plan.limit, plan.offset
    order_by = request.query.get("orderBy")
    if order_by is not None:
        docs, total, has_next = await _ordered(
            request, plan, parse_order_by(order_by, neg.tm.expand)
        )
    else:
        docs, total, has_next = await _page(request, plan)
    geo_prop = geoproperty(request, neg.tm)
    items = [render(neg, d, view, geo_prop) for d in docs]
    if join is not None and neg.accept != GEOJSON:
        linker = Linker(broker(request), scope)
        await linker.load(docs, level)
        if join == "inline":
            for doc, item in zip(docs, items, strict=True):
                linker.inline(neg, view, doc, item, level)
        else:
            items += linker.flat(neg, view, docs, items, level)
    headers = {COUNT_HEADER: str(total)} if total is not None else {}
    ids = [d["id"] for d in docs]
    payload: Any = items
    if neg.accept == GEOJSON:
        payload = {"type": "FeatureCollection", "features": items}
    links = page_links(request, offset, limit, has_next)
    # encoded before the access is recorded, sent only after it: see common.done
    answer = respond(neg, payload, headers=headers, links=links)
    del docs, items, payload
    size = len(answer.body) if isinstance(answer.body, bytes) else 0
    await done(request, "entities.query", scope, status=200, ids=ids, bytes=size)
    return answer


async def _page(request: web.Request, plan: QueryPlan) -> tuple[list[Doc], int | None, bool]:
    limit = plan.limit
    if limit > 0:
        plan.limit = limit + 1  # one more row tells whether a next page exists
    docs, total = await broker(request).query(plan)
    return docs[:limit], total, len(docs) > limit


async def _ordered(
    request: web.Request, plan: QueryPlan, items: list[OrderItem]
) -> tuple[list[Doc], int | None, bool]:
    """orderBy: every match is read (at most MAX_ORDERED), sorted, then the page cut."""
    limit, offset = plan.limit, plan.offset
    plan.limit, plan.offset = MAX_ORDERED + 1, 0
    docs, total = await broker(request).query(plan)
    if len(docs) > MAX_ORDERED:
        raise too_many(f"orderBy sorts at most {MAX_ORDERED} entities; narrow the query")
    ordered = sort_docs(docs, items)
    return ordered[offset : offset + limit], total, len(ordered) > offset + limit


async def replace_entity(request: web.Request) -> web.Response:
    eid = entity_id(request)
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    doc = parse_entity(body, neg.tm, ops.stamp(), entity_id=eid)
    scope = await enforce(request, "entity.replace", set(doc["type"]))
    await broker(request).apply_one(eid, ops.replace(doc), scope)
    await done(request, "entity.replace", scope, status=204, ids=[eid])
    return web.Response(status=204)


async def merge_entity(request: web.Request) -> web.Response:
    eid = entity_id(request)
    body, ctype = await read_body(request, merge_patch=True)
    neg = negotiate(request, body_context(body, ctype, request))
    if isinstance(body, dict) and "id" in body and body["id"] != eid:
        raise bad_data(f"the body's id {body['id']!r} differs from {eid!r}")
    now = ops.stamp()
    frag = parse_fragment(body, neg.tm, now)
    scope = await enforce(request, "entity.merge", set(frag.get("type", [])) or None)
    await broker(request).apply_one(eid, ops.merge(eid, frag, now), scope)
    await done(request, "entity.merge", scope, status=204, ids=[eid])
    return web.Response(status=204)


async def delete_entity(request: web.Request) -> web.Response:
    eid = entity_id(request)
    scope = await enforce(request, "entity.delete")
    await broker(request).apply_one(eid, ops.delete(eid), scope)
    await done(request, "entity.delete", scope, status=204, ids=[eid])
    return web.Response(status=204)


def _update_result(outcome: ops.Outcome) -> web.Response:
    if not outcome.attrs_not_updated:
        return web.Response(status=204)
    return web.json_response(
        {
            "updated": outcome.attrs_updated,
            "notUpdated": [
                {"attributeName": name, "reason": reason}
                for name, reason in outcome.attrs_not_updated
            ],
        },
        status=207,
    )


async def _attrs_write(
    request: web.Request, operation: str, *, only_existing: bool
) -> web.Response:
    eid = entity_id(request)
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    opts = options(request.query)
    now = ops.stamp()
    frag = parse_fragment(body, neg.tm, now)
    if not any(":" in k or k in ("type", "scope", DROP_DATASETS) for k in frag):  # §4.16: types too
        raise bad_data("the body has no attributes, type or scope")
    scope = await enforce(request, operation, set(frag.get("type", [])) or None)
    outcome = ops.Outcome()
    change = ops.append(
        eid, frag, now, outcome, overwrite="noOverwrite" not in opts, only_existing=only_existing
    )
    await broker(request).apply_one(eid, change, scope)
    await done(request, operation, scope, status=204, ids=[eid])
    outcome.attrs_updated = [neg.tm.compact(n) for n in outcome.attrs_updated]
    outcome.attrs_not_updated = [(neg.tm.compact(n), r) for n, r in outcome.attrs_not_updated]
    return _update_result(outcome)


async def append_attrs(request: web.Request) -> web.Response:
    return await _attrs_write(request, "attrs.append", only_existing=False)


async def update_attrs(request: web.Request) -> web.Response:
    return await _attrs_write(request, "attrs.update", only_existing=True)


async def _one_attr(request: web.Request) -> tuple[str, str, Any, Any]:
    eid = entity_id(request)
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    name = attr_name(request, neg.tm)
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
    return eid, name, body, neg


async def patch_attr(request: web.Request) -> web.Response:
    eid, name, body, neg = await _one_attr(request)
    now = ops.stamp()
    if not isinstance(body, dict) or not body:
        raise bad_data("the body must be an attribute fragment object")
    content = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")
    where = request.match_info["attrId"]
    if "type" in body or any(k in body for k in content):
        instances = parse_attribute(name, body, neg.tm, now, where=where)
    else:  # metadata or sub-attributes only
        instances = [_metadata_only(body, neg, name, now, where)]
    scope = await enforce(request, "attrs.patch")
    await broker(request).apply_one(eid, ops.patch_attribute(eid, name, instances, now), scope)
    await done(request, "attrs.patch", scope, status=204, ids=[eid])
    return web.Response(status=204)


def _metadata_only(body: dict[str, Any], neg: Any, name: str, now: str, where: str) -> Any:
    """A partial update without a new value: validate the members through a dummy value."""
    probe = dict(body)
    probe.setdefault("value", 0)
    probe.pop("type", None)
    inst = parse_attribute(name, probe, neg.tm, now, where=where)[0]
    inst.pop("value", None)
    inst.pop("type", None)
    return inst


async def replace_attr(request: web.Request) -> web.Response:
    eid, name, body, neg = await _one_attr(request)
    now = ops.stamp()
    instances = parse_attribute(name, body, neg.tm, now, where=request.match_info["attrId"])
    scope = await enforce(request, "attrs.replace")
    await broker(request).apply_one(eid, ops.replace_attribute(eid, name, instances, now), scope)
    await done(request, "attrs.replace", scope, status=204, ids=[eid])
    return web.Response(status=204)


async def delete_attr(request: web.Request) -> web.Response:
    eid = entity_id(request)
    neg = negotiate(request)
    name = attr_name(request, neg.tm)
    dataset_id = request.query.get("datasetId")
    if dataset_id is not None:
        check_id(dataset_id, "datasetId")
    delete_all = request.query.get("deleteAll", "false").lower() == "true"
    scope = await enforce(request, "attrs.delete")
    now = ops.stamp()
    change = ops.delete_attribute(eid, name, dataset_id, delete_all, now)
    await broker(request).apply_one(eid, change, scope)
    await done(request, "attrs.delete", scope, status=204, ids=[eid])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/entities", create_entity)
    r.add_get("/entities", query_entities)
    r.add_get("/entities/{entityId}", retrieve_entity)
    r.add_put("/entities/{entityId}", replace_entity)
    r.add_patch("/entities/{entityId}", merge_entity)
    r.add_delete("/entities/{entityId}", delete_entity)
    r.add_post("/entities/{entityId}/attrs", append_attrs)
    r.add_patch("/entities/{entityId}/attrs", update_attrs)
    r.add_post("/entities/{entityId}/attrs/", append_attrs)
    r.add_patch("/entities/{entityId}/attrs/{attrId}", patch_attr)
    r.add_put("/entities/{entityId}/attrs/{attrId}", replace_attr)
    r.add_delete("/entities/{entityId}/attrs/{attrId}", delete_attr)
