"""What an NGSI-LD request asks for, read the way the broker reads it (same term expansion),
so the PEP can refuse a request that names only what the agreement excludes, and an entity
retrieval by id outside the agreement's area (the broker's id path does not apply the area).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connector.http import safe_json

if TYPE_CHECKING:
    from connector.ngsild.context import TermMap


async def require_inside(request: web.Request, area: dict[str, Any]) -> None:
    """Retrieval by id answers outside the area too (the broker's id path checks types and
    attributes only), so an entity outside the agreement's area is reported as absent here."""
    from shapely.geometry import shape

    from connector.http.context import CTX
    from connector.ngsild.errors import not_found
    from connector.ngsild.query.geo import shape_of
    from connector.ngsild.render import LOCATION

    eid = request.match_info.get("entityId", "")
    doc = await request.app[CTX].components["ngsild.broker"].store.get(eid)
    region = shape(area)
    locations = (doc or {}).get(LOCATION) or []
    if not any(
        isinstance(i.get("value"), dict) and shape_of(i["value"]).intersects(region)
        for i in locations
    ):
        raise not_found(f"no entity {eid}")


def _term_map(request: web.Request, body_context: Any = None) -> Any:
    """The term map the broker reads the request with: the body's @context, else the Link
    header's (the media types the handler negotiates itself, before or after the PEP)."""
    from connector.ngsild.api.negotiation import negotiate
    from connector.ngsild.context import context_from_link, term_map

    if body_context is not None:
        return negotiate(request, body_context).tm
    return term_map(context_from_link(request.headers.get("Link")))


async def requested_types(request: web.Request, operation: str) -> set[str]:
    """The entity types a query names (``type=`` or the batch Query's entity selectors)."""
    expressions: list[str] = []
    context = None
    if operation == "batch.query":
        try:
            body = safe_json.loads(await request.read())
        except ValueError:
            return set()
        if isinstance(body, dict):
            context = body.get("@context")
            for selector in body.get("entities") or []:
                if isinstance(selector, dict) and isinstance(selector.get("type"), str):
                    expressions.append(selector["type"])
    elif "type" in request.query:
        expressions.append(request.query["type"])
    if not expressions:
        return set()
    tm = _term_map(request, context)
    names: set[str] = set()
    for text in expressions:
        names |= _expanded_types(text, tm)
    return names


@lru_cache(maxsize=512)
def _expanded_types(text: str, tm: TermMap) -> frozenset[str]:
    """The type names of one ``type`` expression, expanded: the same few expressions come
    with every request of a consumer's application, so they are parsed once per term map."""
    from connector.ngsild.query.selectors import leaves, parse_types

    return frozenset(tm.expand(n) for n in leaves(parse_types(text)))


def requested_attrs(request: web.Request) -> set[str] | None:
    raw = request.query.get("attrs")
    if not raw:
        return None
    tm = _term_map(request)
    return {tm.expand(a.strip()) for a in raw.split(",") if a.strip()}
