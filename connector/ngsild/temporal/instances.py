"""Editing one attribute's history (§6.21, §6.22): delete an attribute's instances (the default
instance, one datasetId or all), modify or delete one instance by its instance id.

These rewrite the history itself, so they go through the PEP as ``temporal.update`` and
``temporal.delete`` with the entity's types, exactly like deleting a whole history. Names and
ids are checked before anything is read (BadRequestData), unknown ones are ResourceNotFound.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.ngsild.api.common import attr_name, done, enforce
from connector.ngsild.api.negotiation import body_context, negotiate, read_body
from connector.ngsild.errors import bad_data, not_found
from connector.ngsild.model import CONTENT_KEY, check_id, now_iso, parse_instance
from connector.ngsild.service import check_write
from connector.ngsild.temporal.api import store
from connector.ngsild.temporal.store import row_for


async def _known(request: web.Request, operation: str, eid: str) -> Any:
    scope = await enforce(request, operation)
    types = await store(request).types_of(eid)
    if types is None:
        raise not_found(f"no temporal history for the entity {eid}")
    check_write(scope, {"id": eid, "type": types}, history=True)
    return scope


def _instance_id(request: web.Request) -> str:
    return check_id(request.match_info["instanceId"], "instanceId")


async def delete_attribute(request: web.Request) -> web.Response:
    """DELETE /temporal/entities/{id}/attrs/{attrId} (§6.21.3.2)."""
    eid = check_id(request.match_info["entityId"])
    neg = negotiate(request)
    name = attr_name(request, neg.tm)
    dataset_id = request.query.get("datasetId")
    if dataset_id is not None:
        check_id(dataset_id, "datasetId")
    delete_all = request.query.get("deleteAll", "false")
    if delete_all not in ("true", "false"):
        raise bad_data("deleteAll is true or false")
    scope = await _known(request, "temporal.delete", eid)
    gone = await store(request).delete_attribute(eid, name, dataset_id, delete_all == "true")
    if not gone:
        raise not_found(f"the entity {eid} has no such instances of {name}")
    await done(request, "temporal.delete", scope, status=204, ids=[eid])
    return web.Response(status=204)


def _unwrapped(body: Any, short: str, iri: str) -> Any:
    """The instance itself, also when it comes wrapped in its attribute name."""
    if isinstance(body, dict):
        body = {k: v for k, v in body.items() if k != "@context"}
        for key in (short, iri):
            if set(body) == {key}:
                return body[key]
    return body


async def modify_instance(request: web.Request) -> web.Response:
    """PATCH /temporal/entities/{id}/attrs/{attrId}/{instanceId} (§6.22.3.1): the members given
    replace the instance's, which keeps its instance id."""
    eid = check_id(request.match_info["entityId"])
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    short = request.match_info["attrId"]
    name = attr_name(request, neg.tm)
    instance_id = _instance_id(request)
    raw = _unwrapped(body, short, name)
    if not isinstance(raw, dict) or not raw:
        raise bad_data("the body must be an attribute instance object")
    scope = await _known(request, "temporal.update", eid)
    stored = await store(request).instance(eid, name, instance_id)
    if stored is None:
        raise not_found(f"no instance {instance_id} of {name} in the history of {eid}")
    probe = dict(raw)
    kind = probe.setdefault("type", stored.get("type", "Property"))
    key = CONTENT_KEY.get(kind, "value") if isinstance(kind, str) else "value"
    if key not in probe and key in stored:
        probe[key] = stored[key]
    now = now_iso()
    parsed = parse_instance(name, probe, neg.tm, now, where=short)
    new = {**stored, **parsed, "modifiedAt": now}
    if "createdAt" in stored:
        new["createdAt"] = stored["createdAt"]
    if not await store(request).replace_instance(
        eid, name, instance_id, row_for(eid, name, new, now)
    ):
        raise not_found(f"no instance {instance_id} of {name} in the history of {eid}")
    await done(request, "temporal.update", scope, status=204, ids=[eid])
    return web.Response(status=204)


async def delete_instance(request: web.Request) -> web.Response:
    """DELETE /temporal/entities/{id}/attrs/{attrId}/{instanceId} (§6.22.3.2)."""
    eid = check_id(request.match_info["entityId"])
    neg = negotiate(request)
    name = attr_name(request, neg.tm)
    instance_id = _instance_id(request)
    scope = await _known(request, "temporal.delete", eid)
    if not await store(request).delete_instance(eid, name, instance_id):
        raise not_found(f"no instance {instance_id} of {name} in the history of {eid}")
    await done(request, "temporal.delete", scope, status=204, ids=[eid])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_delete("/temporal/entities/{entityId}/attrs/{attrId}", delete_attribute)
    r.add_patch("/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}", modify_instance)
    r.add_delete("/temporal/entities/{entityId}/attrs/{attrId}/{instanceId}", delete_instance)
