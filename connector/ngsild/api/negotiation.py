"""Content negotiation (§6.3.4-6.3.6): request media types, the @context, response shape.

* Request bodies: ``application/json`` (context from the Link header, no ``@context`` member)
  or ``application/ld+json`` (``@context`` in the body, no Link header); else 415.
* Responses: ``application/json`` (context in a Link header), ``application/ld+json``
  (``@context`` in the body) or ``application/geo+json``; an Accept header allowing none of
  them is answered with 406.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aiohttp import web

from connector.http import safe_json
from connector.http.auth import bearer_token
from connector.http.context import CTX
from connector.http.problems import Problem, UnreadableBody, read_body_bytes
from connector.ngsild.context import (
    CORE_URL,
    TermMap,
    context_from_link,
    link_header,
    term_map,
    validate_context_value,
)
from connector.ngsild.errors import bad_data, invalid_request

JSON = "application/json"
JSONLD = "application/ld+json"
GEOJSON = "application/geo+json"
MERGE_PATCH = "application/merge-patch+json"
_OFFERED = (JSON, JSONLD, GEOJSON)


@dataclass(frozen=True)
class Negotiated:
    """The request's @context as a term map, how to echo it, and the response media type."""

    tm: TermMap
    context: Any  # the context to put in ld+json answers (URL, object or list)
    link_url: str  # the context URL for Link headers
    accept: str


def accepted_type(request: web.Request, *, geo_allowed: bool = True) -> str:
    header = request.headers.get("Accept", "")
    media = _choose(header, geo_allowed)
    if media is None:
        raise Problem(
            406,
            "Not Acceptable",
            detail=f"cannot answer with {header!r}; offered: {', '.join(_OFFERED)}",
            type_="https://uri.etsi.org/ngsi-ld/errors/InvalidRequest",
        )
    return media


@lru_cache(maxsize=256)  # clients send the same few Accept headers on every request
def _choose(header: str, geo_allowed: bool) -> str | None:
    """The offered media type an Accept header prefers most (None: none acceptable)."""
    if not header.strip():
        return JSON
    choices: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        media, *params = [p.strip() for p in part.split(";")]
        weight = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    weight = float(param[2:])
                except ValueError:
                    weight = 0.0
        media = media.lower()
        if weight <= 0:
            continue
        if media in ("*/*", "application/*"):
            choices.append((weight, -i, JSON))
        elif media in _OFFERED and (geo_allowed or media != GEOJSON):
            choices.append((weight, -i, media))
    return max(choices)[2] if choices else None


def negotiate(request: web.Request, body_context: Any = None, *, geo: bool = True) -> Negotiated:
    """The term map for a request whose body (if any) was already checked by read_body."""
    accept = accepted_type(request, geo_allowed=geo)
    link = context_from_link(request.headers.get("Link"))
    if body_context is not None:
        validate_context_value(body_context)
        tm = term_map(body_context)
        url = body_context if isinstance(body_context, str) else CORE_URL
        return Negotiated(tm, body_context, url, accept)
    if link is not None:
        return Negotiated(term_map(link), link, link, accept)
    return Negotiated(term_map(None), CORE_URL, CORE_URL, accept)


async def read_body(request: web.Request, *, merge_patch: bool = False) -> tuple[Any, str]:
    """The JSON body and its media type; 415/400 Problems for wrong types or bad JSON."""
    ctype = request.content_type.lower()
    allowed = (JSON, JSONLD, MERGE_PATCH) if merge_patch else (JSON, JSONLD)
    if ctype not in allowed:
        raise Problem(
            415,
            "Unsupported Media Type",
            detail=f"Content-Type {ctype or '(none)'} is not supported; use {' or '.join(allowed)}",
            type_="https://uri.etsi.org/ngsi-ld/errors/InvalidRequest",
        )
    await _refuse_anonymous(request)
    try:
        raw = await read_body_bytes(request)
    except UnreadableBody as exc:
        raise invalid_request(exc.reason) from None
    if not raw:
        raise invalid_request("the request body is empty; JSON expected")
    try:
        body = safe_json.loads(raw)
    except safe_json.UnsafeJson as exc:
        raise (invalid_request if exc.syntax else bad_data)(exc.reason) from None
    return body, ctype


async def _refuse_anonymous(request: web.Request) -> None:
    """A request without any credential is refused by every PEP whatever its body says: let the
    PEP refuse it (its own 401) before the body is read and parsed."""
    if bearer_token(request) is None:
        await request.app[CTX].components["ngsild.pep"].scope_for(request, "body", None)


def body_context(body: Any, ctype: str, request: web.Request) -> Any:
    """The @context an object body carries, checked against its media type."""
    has_link = context_from_link(request.headers.get("Link")) is not None
    if ctype == JSONLD:
        if has_link:
            raise bad_data("application/ld+json requests carry the @context in the body, not Link")
        if not isinstance(body, dict) or "@context" not in body:
            raise bad_data("an application/ld+json body needs an @context member")
        return body["@context"]
    if isinstance(body, dict) and "@context" in body:
        raise bad_data(
            "an application/json body must not have an @context; use application/ld+json"
        )
    return None


def respond(
    neg: Negotiated,
    payload: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
    media: str | None = None,
    links: list[str] | None = None,
) -> web.Response:
    """The JSON answer; ``links`` are further Link values (e.g. pagination) joined with the
    context link into one header (RFC 8288 allows a comma-separated list)."""
    media = media or neg.accept
    out_headers = dict(headers or {})
    values = list(links or [])
    if media != JSONLD:
        values.insert(0, link_header(neg.link_url))
    if values:
        out_headers["Link"] = ", ".join(values)
    return web.Response(
        status=status,
        body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode(),
        content_type=media,
        headers=out_headers,
    )


def with_context(neg: Negotiated, entity: dict[str, Any]) -> dict[str, Any]:
    if neg.accept == JSONLD:
        entity["@context"] = neg.context
    return entity
