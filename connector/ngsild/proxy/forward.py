"""Forwarding /ngsi-ld/v1 requests to the upstream broker, behind the PEP.

Request: method, path, query string, body and the NGSI-LD headers (Link, Content-Type,
Accept, NGSILD-Tenant) go through unchanged; the client's credentials do not (the upstream gets
this connector's own token, if configured). Answer: status, body and NGSI-LD headers come back
unchanged, including the upstream's Problem Details, except that a narrowed scope filters
entity answers (:mod:`.narrowing`). Upstream timeouts become 504 and unreachable upstreams 502
Problems, so the client can tell a gateway failure from the broker's own errors.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from connector.http import safe_json
from connector.http.context import CTX
from connector.http.problems import Problem
from connector.ngsild.api.common import done, enforce
from connector.ngsild.context import context_from_link, term_map
from connector.ngsild.errors import NgsiError
from connector.ngsild.pep import AccessScope
from connector.ngsild.proxy.narrowing import Narrower
from connector.ngsild.proxy.operations import is_read, operation_for
from connector.ngsild.proxy.settings import NgsiLdSettings
from connector.ngsild.query.q import attribute_names, parse_q

PREFIX = "/ngsi-ld/v1"
REQUEST_HEADERS = ("Link", "Content-Type", "Accept", "NGSILD-Tenant", "If-Match")
RESPONSE_HEADERS = (
    "Content-Type",
    "Link",
    "Location",
    "NGSILD-Results-Count",
    "NGSILD-Tenant",
    "Allow",
    "Accept-Patch",
)
SETTINGS: web.AppKey[NgsiLdSettings] = web.AppKey("agora.ngsild.proxy", NgsiLdSettings)
#: answers that are one entity or a list of entities (current or temporal) when narrowing
ENTITY_READS = frozenset(
    {"entity.retrieve", "entities.query", "batch.query", "temporal.query", "temporal.retrieve"}
)


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail=detail)


def _check_narrowed(scope: AccessScope, operation: str, method: str, accept: str) -> None:
    """What a narrowed scope may not do through a proxy, because this connector could not
    enforce it on the upstream's side."""
    if scope.unrestricted:
        return
    if operation.startswith("subscription") and method != "GET":
        raise forbidden(
            "a restricted access scope cannot manage subscriptions through the proxy: the "
            "upstream broker's notifications would bypass the policy enforcement point"
        )
    if is_read(method, operation) and operation not in ENTITY_READS:
        raise forbidden(f"{operation} is not available to a restricted access scope")
    if "geo+json" in accept:
        raise Problem(
            406, "Not Acceptable", detail="GeoJSON is not offered to a restricted access scope"
        )


def _narrow_query(request: web.Request, scope: AccessScope, operation: str) -> dict[str, str]:
    """Push the type and area restrictions upstream when the client gave none of its own, so
    the upstream's paging and counts already reflect them (answers are filtered anyway)."""
    params = dict(request.query)
    if operation not in ("entities.query", "temporal.query"):
        return params
    if scope.entity_types is not None and "type" not in params:
        params["type"] = ",".join(sorted(scope.entity_types))
    if scope.area is not None and not {"georel", "geometry", "coordinates"} & set(params):
        params["georel"] = "intersects"
        params["geometry"] = str(scope.area["type"])
        params["coordinates"] = json.dumps(scope.area["coordinates"], separators=(",", ":"))
    return params


def _upstream_location(value: str, upstream: str) -> str:
    """Map a Location under the upstream's base path to this connector's prefix."""
    base = urlsplit(upstream).path.rstrip("/")
    path = urlsplit(value).path if "://" in value else value
    if base and path.startswith(base + "/"):
        return PREFIX + path[len(base) :]
    return path


async def forward(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    conf = request.app[SETTINGS]
    tail = "/" + request.match_info["tail"]
    operation = operation_for(request.method, tail)
    scope = await enforce(request, operation)
    if not is_read(request.method, operation) and not scope.may_write:
        raise forbidden("this access scope is read-only")
    _check_narrowed(scope, operation, request.method, request.headers.get("Accept", ""))
    headers = {h: request.headers[h] for h in REQUEST_HEADERS if h in request.headers}
    if conf.upstream_tenant and "NGSILD-Tenant" not in headers:
        headers["NGSILD-Tenant"] = conf.upstream_tenant
    token = conf.token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = await request.read()
    if body and not scope.unrestricted and not is_read(request.method, operation):
        _check_write_body(body, request, scope)
    params = _narrow_query(request, scope, operation)
    if scope.attributes is not None and is_read(request.method, operation):
        _check_filters(request, body, scope.attributes)
    try:
        async with ctx.http().request(
            request.method,
            conf.upstream + tail,
            params=params,
            data=body or None,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=conf.timeout_s),
            allow_redirects=False,
        ) as upstream:
            status = upstream.status
            payload = await upstream.read()
            out_headers = {
                h: upstream.headers[h] for h in RESPONSE_HEADERS if h in upstream.headers
            }
    except TimeoutError:
        raise Problem(
            504,
            "Gateway Timeout",
            detail=f"the upstream broker did not answer within {conf.timeout_s} s",
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise Problem(
            502,
            "Bad Gateway",
            detail=f"the upstream broker is unreachable: {type(exc).__name__}",
        ) from None
    if "Location" in out_headers:
        out_headers["Location"] = _upstream_location(out_headers["Location"], conf.upstream)
    if status == 200 and not scope.unrestricted and operation in ENTITY_READS:
        payload = _narrow_payload(payload, out_headers, scope, operation)
    await done(request, operation, scope, status=status, upstream=True)
    content_type = out_headers.pop("Content-Type", None)
    response = web.Response(status=status, body=payload if payload else None, headers=out_headers)
    if content_type:
        response.headers["Content-Type"] = content_type
    return response


def _check_filters(request: web.Request, body: bytes, allowed: frozenset[str]) -> None:
    """q and geo-queries on hidden attributes are refused: the upstream would evaluate them on
    data this scope may not see, and the answer (match or not) would disclose it."""
    context: Any = context_from_link(request.headers.get("Link"))
    filters: dict[str, Any] = dict(request.query)
    if body:
        try:
            parsed = safe_json.loads(body)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            context = parsed.get("@context", context)
            filters["q"] = parsed.get("q")
            geo = parsed.get("geoQ")
            if isinstance(geo, dict):
                filters["geoproperty"] = geo.get("geoproperty")
    tm = term_map(context)
    names: set[str] = set()
    if isinstance(filters.get("q"), str) and filters["q"]:
        names |= {tm.expand(n) for n in attribute_names(parse_q(filters["q"]))}
    if isinstance(filters.get("geoproperty"), str):
        names.add(tm.expand(filters["geoproperty"]))
    hidden = names - allowed
    if hidden:
        raise forbidden(f"filtering on these attributes is not permitted: {sorted(hidden)}")


def _check_write_body(body: bytes, request: web.Request, scope: AccessScope) -> None:
    """Entities written through a type/attribute-restricted scope must stay inside it."""
    try:
        parsed = safe_json.loads(body)
    except ValueError:
        return  # the upstream answers malformed JSON with its own Problem
    items = parsed if isinstance(parsed, list) else [parsed]
    context = context_from_link(request.headers.get("Link"))
    for item in items:
        if not isinstance(item, dict):
            continue
        tm = term_map(item.get("@context", context))
        narrowed = Narrower(AccessScope(scope.entity_types, scope.attributes), tm).entity(
            item if "type" in item else {**item, "type": []}
        )
        if scope.entity_types is not None and "type" in item and narrowed is None:
            raise forbidden("writing entities of this type is not permitted")
        if narrowed is not None and scope.attributes is not None and narrowed != item:
            hidden = sorted(set(item) - set(narrowed))
            raise forbidden(f"writing these attributes is not permitted: {hidden}")


def _narrow_payload(
    payload: bytes, headers: dict[str, str], scope: AccessScope, operation: str
) -> bytes:
    try:
        parsed: Any = safe_json.loads(payload)
    except ValueError:
        raise Problem(
            502, "Bad Gateway", detail="the upstream broker answered with malformed JSON"
        ) from None
    try:
        context = context_from_link(headers.get("Link"))
        first = parsed[0] if isinstance(parsed, list) and parsed else parsed
        if isinstance(first, dict) and "@context" in first:
            context = first["@context"]
        tm = term_map(context)
    except NgsiError:
        raise Problem(
            502,
            "Bad Gateway",
            detail="the upstream answer's @context cannot be interpreted offline, so the "
            "access restrictions cannot be applied",
        ) from None
    narrower = Narrower(scope, tm)
    if isinstance(parsed, list):
        return json.dumps(narrower.entities(parsed)).encode()
    shown = narrower.entity(parsed)
    if shown is None:
        raise NgsiError("ResourceNotFound", "no such entity")
    return json.dumps(shown).encode()
