"""/entityOperations/create|upsert|update|delete|merge|query (§6.14-6.19, 6.23).

Writes answer 201/204 when every entity succeeded and 207 with a BatchOperationResult
(``{"success": [ids], "errors": [{"entityId", "error": ProblemDetails}]}``) otherwise. Entities
that fail validation are reported and never written; the others are written in one
transaction.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.http.problems import Problem
from connector.ngsild import service as ops
from connector.ngsild.api.common import broker, done, enforce, geoproperty, render
from connector.ngsild.api.negotiation import (
    GEOJSON,
    JSONLD,
    negotiate,
    read_body,
    respond,
)
from connector.ngsild.api.pagination import page_links
from connector.ngsild.api.params import (
    Selection,
    options,
    plan_for,
    selection_from_query_body,
    view_for,
)
from connector.ngsild.context import TermMap, context_from_link, term_map, validate_context_value
from connector.ngsild.errors import NgsiError, bad_data, not_supported
from connector.ngsild.model import check_id, parse_entity, parse_fragment
from connector.ngsild.query.selectors import parse_types

MAX_BATCH = 1000


async def _entities_body(request: web.Request) -> tuple[list[Any], str]:
    body, ctype = await read_body(request)
    if not isinstance(body, list):
        raise bad_data("the body must be a JSON array")
    if len(body) > MAX_BATCH:
        raise bad_data(f"at most {MAX_BATCH} entries per batch request")
    if not body:  # §5.6.7-§5.6.10, §5.6.20: an array of entities, not an empty one
        raise bad_data("the batch is empty")
    if any(item is None for item in body):
        raise bad_data("a batch entry is null")
    if ctype == JSONLD and context_from_link(request.headers.get("Link")) is not None:
        raise bad_data("application/ld+json requests carry the @context in the body, not Link")
    return body, ctype


def _term_map_of(item: Any, ctype: str, default: TermMap) -> TermMap:
    if ctype == JSONLD:
        if not isinstance(item, dict) or "@context" not in item:
            raise bad_data("every entity of an application/ld+json batch needs an @context")
        validate_context_value(item["@context"])
        return term_map(item["@context"])
    if isinstance(item, dict) and "@context" in item:
        raise bad_data("an application/json entity must not have an @context")
    return default


def _problem_body(exc: NgsiError | Problem) -> dict[str, Any]:
    return exc.body()


def _result(
    outcome: ops.Outcome, *, success: list[str], all_ok_status: int, ids_body: bool
) -> web.Response:
    if outcome.errors:
        return web.json_response(
            {
                "success": success,
                "errors": [
                    {"entityId": eid, "error": _problem_body(e)} for eid, e in outcome.errors
                ],
            },
            status=207,
        )
    if ids_body:
        return web.json_response(success, status=all_ok_status)
    return web.Response(status=all_ok_status)


def _item_id(item: Any) -> str:
    eid = item.get("id") if isinstance(item, dict) else None
    return eid if isinstance(eid, str) else ""


async def _prepared(
    request: web.Request, parse: Any
) -> tuple[list[tuple[str, ops.Change]], ops.Outcome, set[str]]:
    """Parse every entry; invalid ones become errors, valid ones changes."""
    body, ctype = await _entities_body(request)
    default = negotiate(request).tm
    changes: list[tuple[str, ops.Change]] = []
    failed = ops.Outcome()
    types: set[str] = set()
    for item in body:
        try:
            tm = _term_map_of(item, ctype, default)
            eid, change, item_types = parse(item, tm)
        except (NgsiError, Problem) as exc:
            failed.errors.append((_item_id(item), exc))
            continue
        types |= item_types
        changes.append((eid, change))
    return changes, failed, types


async def _run(request: web.Request, operation: str, parse: Any) -> tuple[ops.Outcome, ops.Outcome]:
    changes, failed, types = await _prepared(request, parse)
    scope = await enforce(request, operation, types or None)
    outcome = await broker(request).apply(changes, scope) if changes else ops.Outcome()
    outcome.errors = failed.errors + outcome.errors
    await done(request, operation, scope, **ops.summary(outcome))
    return outcome, failed


async def batch_create(request: web.Request) -> web.Response:
    now = ops.stamp()

    def parse(item: Any, tm: TermMap) -> tuple[str, ops.Change, set[str]]:
        doc = parse_entity(item, tm, now)
        return doc["id"], ops.create(doc), set(doc["type"])

    outcome, _ = await _run(request, "batch.create", parse)
    return _result(outcome, success=outcome.created, all_ok_status=201, ids_body=True)


async def batch_upsert(request: web.Request) -> web.Response:
    now = ops.stamp()
    opts = options(request.query)
    update_mode = "update" in opts

    def parse(item: Any, tm: TermMap) -> tuple[str, ops.Change, set[str]]:
        doc = parse_entity(item, tm, now)
        if update_mode:
            frag = {k: v for k, v in doc.items() if k not in ("id", "createdAt", "modifiedAt")}
            change = ops.merge(doc["id"], frag, now, upsert_doc=doc)
        else:
            change = ops.replace(doc, upsert=True)
        return doc["id"], change, set(doc["type"])

    outcome, _ = await _run(request, "batch.upsert", parse)
    if outcome.errors:
        return _result(
            outcome, success=outcome.created + outcome.updated, all_ok_status=207, ids_body=False
        )
    if outcome.created:
        return web.json_response(outcome.created, status=201)
    return web.Response(status=204)


def _fragment_parser(now: str, *, update: bool, overwrite: bool) -> Any:
    def parse(item: Any, tm: TermMap) -> tuple[str, ops.Change, set[str]]:
        if not isinstance(item, dict):
            raise bad_data("every entry must be an entity object")
        eid = check_id(item.get("id"))
        frag = parse_fragment(item, tm, now)
        if update:
            outcome = ops.Outcome()
            change = ops.append(eid, frag, now, outcome, overwrite=overwrite, only_existing=False)
        else:
            change = ops.merge(eid, frag, now)
        return eid, change, set(frag.get("type", []))

    return parse


async def batch_update(request: web.Request) -> web.Response:
    opts = options(request.query)
    parse = _fragment_parser(ops.stamp(), update=True, overwrite="noOverwrite" not in opts)
    outcome, _ = await _run(request, "batch.update", parse)
    return _result(outcome, success=outcome.updated, all_ok_status=204, ids_body=False)


async def batch_merge(request: web.Request) -> web.Response:
    parse = _fragment_parser(ops.stamp(), update=False, overwrite=True)
    outcome, _ = await _run(request, "batch.merge", parse)
    return _result(outcome, success=outcome.updated, all_ok_status=204, ids_body=False)


async def batch_delete(request: web.Request) -> web.Response:
    body, _ = await _entities_body(request)
    changes: list[tuple[str, ops.Change]] = []
    failed = ops.Outcome()
    for item in body:
        try:
            eid = check_id(item)
        except NgsiError as exc:
            failed.errors.append((item if isinstance(item, str) else "", exc))
            continue
        changes.append((eid, ops.delete(eid)))
    scope = await enforce(request, "batch.delete")
    outcome = await broker(request).apply(changes, scope) if changes else ops.Outcome()
    outcome.errors = failed.errors + outcome.errors
    await done(request, "batch.delete", scope, **ops.summary(outcome))
    return _result(outcome, success=outcome.deleted, all_ok_status=204, ids_body=False)


def _merge_selectors(base: Selection, selectors: list[Selection]) -> Selection:
    if not selectors:
        return base
    if len(selectors) == 1:
        s = selectors[0]
        return Selection(
            ids=s.ids,
            id_pattern=s.id_pattern,
            types=s.types,
            attrs=base.attrs,
            q=base.q,
            scope_q=base.scope_q,
            georel=base.georel,
            geometry=base.geometry,
            coordinates=base.coordinates,
            geoproperty=base.geoproperty,
        )
    if any(s.ids or s.id_pattern or not s.types for s in selectors):
        raise not_supported("several entity selectors are supported when each gives only a type")
    names = []
    for s in selectors:
        assert s.types is not None
        parse_types(s.types)
        names.append(f"({s.types})")
    return Selection(
        types=",".join(names),
        attrs=base.attrs,
        q=base.q,
        scope_q=base.scope_q,
        georel=base.georel,
        geometry=base.geometry,
        coordinates=base.coordinates,
        geoproperty=base.geoproperty,
    )


async def batch_query(request: web.Request) -> web.Response:
    body, ctype = await read_body(request)
    context = None
    if ctype == JSONLD:
        if not isinstance(body, dict) or "@context" not in body:
            raise bad_data("an application/ld+json body needs an @context member")
        context = body["@context"]
    neg = negotiate(request, context)
    base, selectors = selection_from_query_body(body)
    sel = _merge_selectors(base, selectors)
    scope = await enforce(request, "batch.query")
    params: dict[str, Any] = dict(request.query)
    view_params = dict(params)
    if sel.attrs:
        view_params["attrs"] = ",".join(sel.attrs)
    if isinstance(body.get("lang"), str):
        view_params["lang"] = body["lang"]
    for key in ("pick", "omit"):  # Table 5.2.23-1: projection members of the Query
        value = body.get(key)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)
        if value is not None:
            if not isinstance(value, str):
                raise bad_data(f"{key} must be a string or a list of strings")
            view_params[key] = value
    if isinstance(body.get("join"), str):
        params["join"] = view_params["join"] = body["join"]
    view = view_for(view_params, neg.tm, scope)
    plan = plan_for(sel, params, neg.tm, scope, require_filter=False)
    limit = plan.limit
    if limit > 0:
        plan.limit = limit + 1  # one more row tells whether a next page exists
    docs, total = await broker(request).query(plan)
    has_next = len(docs) > limit
    docs = docs[:limit]
    geo_prop = geoproperty(request, neg.tm)
    items = [render(neg, d, view, geo_prop) for d in docs]
    ids = [d["id"] for d in docs]
    headers = {"NGSILD-Results-Count": str(total)} if total is not None else {}
    payload: Any = items
    if neg.accept == GEOJSON:
        payload = {"type": "FeatureCollection", "features": items}
    # the links repeat limit and offset as query parameters: POST the same Query body to them
    links = page_links(request, plan.offset, limit, has_next)
    answer = respond(neg, payload, headers=headers, links=links)  # before the wait: see done
    del docs, items, payload
    await done(request, "batch.query", scope, status=200, ids=ids)
    return answer


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/entityOperations/create", batch_create)
    r.add_post("/entityOperations/upsert", batch_upsert)
    r.add_post("/entityOperations/update", batch_update)
    r.add_post("/entityOperations/delete", batch_delete)
    r.add_post("/entityOperations/merge", batch_merge)
    r.add_post("/entityOperations/query", batch_query)
