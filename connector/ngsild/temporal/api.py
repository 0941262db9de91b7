"""/temporal/entities (§6.18-6.19): query and retrieve history, create/append instances, delete
an entity's history; /temporal/entityOperations/query (§6.24), the query as a POST body.
Every handler asks the PEP first (operations ``temporal.query``,
``temporal.retrieve``, ``temporal.create``, ``temporal.append``, ``temporal.delete``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

from aiohttp import web

from connector.http.context import CTX
from connector.ngsild.api.common import done, enforce
from connector.ngsild.api.negotiation import (
    JSONLD,
    Negotiated,
    body_context,
    negotiate,
    read_body,
    respond,
)
from connector.ngsild.api.pagination import page_links
from connector.ngsild.errors import bad_data, not_found
from connector.ngsild.model import ENTITY_KEYS, check_id, check_name, now_iso, parse_instance
from connector.ngsild.service import check_write
from connector.ngsild.temporal.params import TemporalQuery, temporal_query
from connector.ngsild.temporal.query import TemporalQueryRunner
from connector.ngsild.temporal.query_body import params_of_query
from connector.ngsild.temporal.render import render_temporal
from connector.ngsild.temporal.store import TemporalStore, row_for

BASE = "/ngsi-ld/v1/temporal/entities"
COUNT_HEADER = "NGSILD-Results-Count"
STORE = "ngsild.temporal"
MAX_INSTANCES = 10_000


def store(request: web.Request) -> TemporalStore:
    s: TemporalStore = request.app[CTX].components[STORE]
    return s


def _with_context(neg: Negotiated, item: dict[str, Any]) -> dict[str, Any]:
    if neg.accept == JSONLD:
        item["@context"] = neg.context
    return item


async def query_temporal(request: web.Request) -> web.Response:
    neg = negotiate(request, geo=False)
    return await _query(request, neg, temporal_query(request.query, neg.tm))


async def query_temporal_post(request: web.Request) -> web.Response:
    """POST /temporal/entityOperations/query (§6.24): the Query body, answered as the GET."""
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request), geo=False)
    params = params_of_query(body, request.query)
    return await _query(request, neg, temporal_query(params, neg.tm))


async def _query(request: web.Request, neg: Negotiated, tq: TemporalQuery) -> web.Response:
    scope = await enforce(request, "temporal.query")
    probe = replace(tq, limit=tq.limit + 1) if tq.limit > 0 else tq
    found, total = await TemporalQueryRunner(store(request)).run(probe, scope, neg.tm)
    has_next = len(found) > tq.limit
    found = found[: tq.limit]
    items = [
        _with_context(
            neg,
            render_temporal(
                e,
                neg.tm,
                simplified=tq.simplified,
                sys_attrs=tq.sys_attrs,
                timeproperty=tq.window.timeproperty,
            ),
        )
        for e in found
    ]
    headers = {COUNT_HEADER: str(total)} if total is not None else {}
    ids = [e.entity_id for e in found]
    links = page_links(request, tq.offset, tq.limit, has_next)
    answer = respond(neg, items, headers=headers, links=links)  # before the wait: see done
    del found, items
    await done(request, "temporal.query", scope, status=200, ids=ids)
    return answer


async def retrieve_temporal(request: web.Request) -> web.Response:
    eid = check_id(request.match_info["entityId"])
    neg = negotiate(request, geo=False)
    tq = temporal_query(request.query, neg.tm, entity_id=eid)
    scope = await enforce(request, "temporal.retrieve")
    types = await store(request).types_of(eid)
    if types is None:
        raise not_found(f"no temporal history for the entity {eid}")
    found, _ = await TemporalQueryRunner(store(request)).run(
        replace(tq, limit=1, offset=0, count=False), scope, neg.tm
    )
    if scope.entity_types is not None and not set(types) & scope.entity_types:
        raise not_found(f"no temporal history for the entity {eid}")
    if found:
        body = render_temporal(
            found[0],
            neg.tm,
            simplified=tq.simplified,
            sys_attrs=tq.sys_attrs,
            timeproperty=tq.window.timeproperty,
        )
    else:  # known entity, nothing in this window (or narrowed away): id and type only
        compact = [neg.tm.compact(t) for t in types]
        body = {"id": eid, "type": compact[0] if len(compact) == 1 else compact}
    await done(request, "temporal.retrieve", scope, status=200, ids=[eid])
    return respond(neg, _with_context(neg, body))


def _parse_instances(body: dict[str, Any], neg: Negotiated, now: str) -> dict[str, Any]:
    """{expanded name: [stored instances]} of a temporal fragment's attributes."""
    attrs: dict[str, list[dict[str, Any]]] = {}
    total = 0
    for name, raw in body.items():
        if name in ENTITY_KEYS:
            continue
        check_name(name, "attribute")
        iri = neg.tm.expand(name)
        items = raw if isinstance(raw, list) else [raw]
        if not items:
            raise bad_data(f"{name}: an empty list of instances")
        attrs[iri] = [parse_instance(iri, item, neg.tm, now, where=name) for item in items]
        total += len(items)
    if total > MAX_INSTANCES:
        raise bad_data(f"at most {MAX_INSTANCES} instances per request")
    return attrs


def _parse_temporal_entity(body: Any, neg: Negotiated, now: str) -> tuple[str, list[str], Any]:
    """Validate a temporal entity; returns (id, expanded types, {name: instances})."""
    if not isinstance(body, dict):
        raise bad_data("a temporal entity must be a JSON object")
    eid = check_id(body.get("id"))
    raw_types = body.get("type")
    types_list = raw_types if isinstance(raw_types, list) else [raw_types]
    if not types_list or not all(isinstance(t, str) and t for t in types_list):
        raise bad_data("the temporal entity needs a type")
    types = [neg.tm.expand(check_name(t, "type")) for t in types_list]
    return eid, types, _parse_instances(body, neg, now)


async def create_temporal(request: web.Request) -> web.Response:
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    now = now_iso()
    eid, types, attrs = _parse_temporal_entity(body, neg, now)
    scope = await enforce(request, "temporal.create", set(types))
    check_write(scope, {"id": eid, "type": types, **attrs}, history=True)
    rows = [row_for(eid, name, inst, now) for name, insts in attrs.items() for inst in insts]
    created = await store(request).append(eid, types, rows, now)
    await done(request, "temporal.create", scope, status=201 if created else 204, ids=[eid])
    if created:
        return web.Response(status=201, headers={"Location": f"{BASE}/{quote(eid, safe=':')}"})
    return web.Response(status=204)


async def append_temporal_attrs(request: web.Request) -> web.Response:
    """POST /temporal/entities/{id}/attrs (§6.20): add instances to a known entity."""
    eid = check_id(request.match_info["entityId"])
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    if not isinstance(body, dict):
        raise bad_data("the body must be a JSON object of attributes")
    if "id" in body and body["id"] != eid:
        raise bad_data(f"the body's id {body['id']!r} differs from {eid!r}")
    now = now_iso()
    attrs = _parse_instances(body, neg, now)
    if not attrs:
        raise bad_data("the body has no attributes")
    scope = await enforce(request, "temporal.append")
    types = await store(request).types_of(eid)
    if types is None:
        raise not_found(f"no temporal history for the entity {eid}")
    check_write(scope, {"id": eid, "type": types, **attrs}, history=True)
    rows = [row_for(eid, name, inst, now) for name, insts in attrs.items() for inst in insts]
    await store(request).append(eid, types, rows, now)
    await done(request, "temporal.append", scope, status=204, ids=[eid])
    return web.Response(status=204)


async def delete_temporal(request: web.Request) -> web.Response:
    eid = check_id(request.match_info["entityId"])
    scope = await enforce(request, "temporal.delete")
    types = await store(request).types_of(eid)
    if types is None:
        raise not_found(f"no temporal history for the entity {eid}")
    check_write(scope, {"id": eid, "type": types}, history=True)
    await store(request).delete(eid)
    await done(request, "temporal.delete", scope, status=204, ids=[eid])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/temporal/entities", query_temporal)
    r.add_post("/temporal/entities", create_temporal)
    r.add_post("/temporal/entityOperations/query", query_temporal_post)
    r.add_get("/temporal/entities/{entityId}", retrieve_temporal)
    r.add_delete("/temporal/entities/{entityId}", delete_temporal)
    r.add_post("/temporal/entities/{entityId}/attrs", append_temporal_attrs)
