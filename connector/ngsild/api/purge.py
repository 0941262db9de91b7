"""DELETE /entities (§5.6.21 Purge Entities): delete every entity a query selects, or only some
of their attributes (``drop``) or all but some (``keep``).

The guard against a tenant-wide accident comes first: ids or an id pattern alone, or filters
naming only system attributes, are "too wide" (§5.6.21.4, BadRequestData) unless the request
says ``local=true``; nothing is read or deleted before the request has passed it.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from connector.ngsild import service as ops
from connector.ngsild.api.common import broker, done, enforce
from connector.ngsild.api.negotiation import negotiate
from connector.ngsild.api.params import SYSTEM_ATTRS, plan_for, selection_from_params, split
from connector.ngsild.context import TermMap
from connector.ngsild.errors import bad_data
from connector.ngsild.model import ENTITY_KEYS, Doc, check_name
from connector.ngsild.pep import AccessScope
from connector.ngsild.query.q import attribute_names, parse_q

PAGE = 500


def _qualifies(params: Mapping[str, str]) -> bool:
    """§5.6.21.4 a)-e): a type, a non-system attribute in attrs or q, a geo-query, local."""
    if params.get("local", "").lower() == "true":
        return True
    if params.get("type") or params.get("georel"):
        return True
    if any(a not in SYSTEM_ATTRS for a in split(params.get("attrs"))):
        return True
    q = params.get("q")
    return q is not None and any(a not in SYSTEM_ATTRS for a in attribute_names(parse_q(q)))


def _checked(params: Mapping[str, str]) -> tuple[list[str], list[str]]:
    keep, drop = split(params.get("keep")), split(params.get("drop"))
    if keep and drop:
        raise bad_data("keep and drop cannot be given together")
    for name in keep + drop:
        check_name(name, "attribute")
    if "{" in params.get("q", "") or "{" in params.get("attrs", ""):
        raise bad_data("a purge cannot select or project linked entities (§5.6.21.4)")
    if not _qualifies(params):
        raise bad_data(
            "too wide: give a type, attrs or q naming a non-system attribute, a geo-query, "
            "or local=true (ids or an id pattern alone do not suffice)"
        )
    return keep, drop


def _pruned(doc: Doc, keep: frozenset[str] | None, drop: frozenset[str], now: str) -> Doc:
    out = {
        k: v
        for k, v in doc.items()
        if k in ENTITY_KEYS
        or k.startswith("@")
        or not isinstance(v, list)
        or (k not in drop and (keep is None or k in keep))
    }
    if out != doc:
        out["modifiedAt"] = now
    return out


def _change(eid: str, keep: frozenset[str] | None, drop: frozenset[str], now: str) -> ops.Change:
    if keep is None and not drop:
        return ops.delete(eid)

    def change(before: Doc | None) -> Doc | None:
        return None if before is None else _pruned(before, keep, drop, now)

    return change


async def _matching_ids(request: web.Request, tm: TermMap, scope: AccessScope) -> list[str]:
    plan = plan_for(selection_from_params(request.query), {}, tm, scope, require_filter=False)
    ids: list[str] = []
    plan.limit = PAGE
    while True:
        plan.offset = len(ids)
        docs, _ = await broker(request).query(plan)
        ids += [d["id"] for d in docs]
        if len(docs) < PAGE:
            return ids


async def purge_entities(request: web.Request) -> web.Response:
    neg = negotiate(request)
    keep, drop = _checked(request.query)
    scope = await enforce(request, "entities.purge")
    ids = await _matching_ids(request, neg.tm, scope)
    kept = frozenset(neg.tm.expand(n) for n in keep) if keep else None
    dropped = frozenset(neg.tm.expand(n) for n in drop)
    now = ops.stamp()
    outcome = await broker(request).apply([(i, _change(i, kept, dropped, now)) for i in ids], scope)
    await done(request, "entities.purge", scope, status=204, **ops.summary(outcome))
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_delete("/entities", purge_entities)
