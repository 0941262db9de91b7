"""/subscriptions and /subscriptions/{id} (§6.10, §6.11): create, list, retrieve, update,
delete. Every handler asks the PEP first; a subscription stores the scope it was created under
and its owner, and only the admin sees other principals' subscriptions."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from connector.http.auth import ADMIN, PRINCIPAL_KEY
from connector.http.context import CTX
from connector.ngsild.api.common import done, enforce
from connector.ngsild.api.negotiation import JSONLD, body_context, negotiate, read_body, respond
from connector.ngsild.api.pagination import Window
from connector.ngsild.api.params import options
from connector.ngsild.context import link_header
from connector.ngsild.errors import not_found
from connector.ngsild.model import check_id, now_iso
from connector.ngsild.query.selectors import expand_expr, leaves, parse_types
from connector.ngsild.subscriptions.compiled import Compiled
from connector.ngsild.subscriptions.endpoints import EndpointRules, endpoint_rules
from connector.ngsild.subscriptions.manager import SubscriptionManager
from connector.ngsild.subscriptions.model import merge_patch, new_id, status_of, validate
from connector.ngsild.subscriptions.store import StoredSubscription
from connector.ngsild.temporal.times import now_utc

BASE = "/ngsi-ld/v1/subscriptions"
COUNT_HEADER = "NGSILD-Results-Count"
MANAGER = "ngsild.subscriptions"


def manager(request: web.Request) -> SubscriptionManager:
    m: SubscriptionManager = request.app[CTX].components[MANAGER]
    return m


def _endpoint_rules(request: web.Request) -> EndpointRules:
    return endpoint_rules(request.app[CTX].settings)


def _owner(request: web.Request) -> tuple[str, bool]:
    """The caller's subject and whether it may see every subscription (the admin).

    The participant's own subscriptions (admin key, or a PEP that names no principal) are
    owned by "": its DID can change with its public URL, its ownership must not."""
    found = request.get(PRINCIPAL_KEY)
    if found is None or found.kind == ADMIN:
        return "", True
    return found.subject, False


def render(stored: StoredSubscription, *, ld: bool, sys_attrs: bool) -> dict[str, Any]:
    """The subscription as clients read it: their document plus the broker's status."""
    doc = {k: v for k, v in stored.doc.items() if k != "@context"}
    out: dict[str, Any] = {"id": doc.pop("id"), "type": doc.pop("type"), **doc}
    out["isActive"] = stored.doc.get("isActive", True)
    out["status"] = status_of(stored.doc, now_utc())
    note = dict(out["notification"])
    failing = stored.last_failure is not None and (
        stored.last_success is None or stored.last_failure > stored.last_success
    )
    note["status"] = "failed" if failing else "ok"
    note["timesSent"] = stored.times_sent
    note["timesFailed"] = stored.times_failed
    for key, value in (
        ("lastNotification", stored.last_notification),
        ("lastSuccess", stored.last_success),
        ("lastFailure", stored.last_failure),
    ):
        if value is not None:
            note[key] = value
    out["notification"] = note
    if sys_attrs:
        out["createdAt"] = stored.created_at
        out["modifiedAt"] = stored.modified_at
    if ld:
        out["@context"] = stored.doc.get("@context")
    return out


def _sub_id(request: web.Request) -> str:
    return check_id(request.match_info["subscriptionId"], "the subscription id")


async def _visible(request: web.Request, sub_id: str) -> StoredSubscription:
    stored = await manager(request).store.get(sub_id)
    owner, sees_all = _owner(request)
    if stored is None or (not sees_all and stored.owner != owner):
        raise not_found(f"no subscription {sub_id}")
    return stored


async def create_subscription(request: web.Request) -> web.Response:
    body, ctype = await read_body(request)
    neg = negotiate(request, body_context(body, ctype, request))
    doc = validate(body, _endpoint_rules(request), creating=True)
    doc.setdefault("id", new_id())
    doc["@context"] = neg.context
    targets: set[str] = set()
    for sel in doc.get("entities", []):
        targets |= leaves(expand_expr(parse_types(sel["type"]), neg.tm.expand))
    scope = await enforce(request, "subscription.create", targets or None)
    owner, _ = _owner(request)
    now = now_iso()
    stored = StoredSubscription(
        doc=doc, restriction=scope, owner=owner, created_at=now, modified_at=now
    )
    Compiled(stored)  # everything binds under the subscription's context before storing
    m = manager(request)
    await m.store.insert(stored)
    m.put(stored)
    await done(request, "subscription.create", scope, status=201, ids=[doc["id"]])
    return web.Response(status=201, headers={"Location": f"{BASE}/{quote(doc['id'], safe=':')}"})


async def list_subscriptions(request: web.Request) -> web.Response:
    neg = negotiate(request, geo=False)
    scope = await enforce(request, "subscriptions.list")
    sys_attrs = "sysAttrs" in options(request.query)
    window = Window.of(request.query)
    owner, sees_all = _owner(request)
    rows, total = await manager(request).store.page(
        None if sees_all else owner, window.limit, window.offset
    )
    ld = neg.accept == JSONLD
    items = [render(r, ld=ld, sys_attrs=sys_attrs) for r in rows]
    headers = {COUNT_HEADER: str(total)} if window.count else {}
    await done(request, "subscriptions.list", scope, status=200, ids=[r.id for r in rows])
    links = window.links(request, total)
    return respond(neg, items, headers=headers, links=links)


async def retrieve_subscription(request: web.Request) -> web.Response:
    sub_id = _sub_id(request)
    neg = negotiate(request, geo=False)
    scope = await enforce(request, "subscription.retrieve")
    stored = await _visible(request, sub_id)
    sys_attrs = "sysAttrs" in options(request.query)
    await done(request, "subscription.retrieve", scope, status=200, ids=[sub_id])
    response = respond(neg, render(stored, ld=neg.accept == JSONLD, sys_attrs=sys_attrs))
    context = stored.doc.get("@context")
    if neg.accept != JSONLD and isinstance(context, str):
        # the subscription's names are those of its own context, not the request's
        response.headers["Link"] = link_header(context)
    return response


async def update_subscription(request: web.Request) -> web.Response:
    sub_id = _sub_id(request)
    body, ctype = await read_body(request, merge_patch=True)
    neg = negotiate(request, body_context(body, ctype, request))
    scope = await enforce(request, "subscription.update")
    stored = await _visible(request, sub_id)
    fragment = (
        {k: v for k, v in body.items() if k != "@context"} if isinstance(body, dict) else body
    )
    merged = merge_patch(stored.doc, fragment)
    doc = validate(merged, _endpoint_rules(request), creating="expiresAt" in fragment)
    if isinstance(body, dict) and ("@context" in body or request.headers.get("Link")):
        doc["@context"] = neg.context
    else:
        doc["@context"] = stored.doc.get("@context")
    updated = StoredSubscription(
        doc=doc,
        restriction=stored.restriction,
        owner=stored.owner,
        created_at=stored.created_at,
        modified_at=now_iso(),
        times_sent=stored.times_sent,
        times_failed=stored.times_failed,
        last_notification=stored.last_notification,
        last_success=stored.last_success,
        last_failure=stored.last_failure,
    )
    Compiled(updated)
    m = manager(request)
    await m.store.replace_doc(sub_id, doc, updated.modified_at)
    m.put(updated)
    await done(request, "subscription.update", scope, status=204, ids=[sub_id])
    return web.Response(status=204)


async def delete_subscription(request: web.Request) -> web.Response:
    sub_id = _sub_id(request)
    scope = await enforce(request, "subscription.delete")
    await _visible(request, sub_id)
    m = manager(request)
    await m.store.delete(sub_id)
    m.drop(sub_id)
    await done(request, "subscription.delete", scope, status=204, ids=[sub_id])
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post("/subscriptions", create_subscription)
    r.add_get("/subscriptions", list_subscriptions)
    r.add_get("/subscriptions/{subscriptionId}", retrieve_subscription)
    r.add_patch("/subscriptions/{subscriptionId}", update_subscription)
    r.add_delete("/subscriptions/{subscriptionId}", delete_subscription)
