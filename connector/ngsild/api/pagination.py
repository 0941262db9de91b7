"""Pagination links (NGSI-LD v1.8 §5.5.9 and its HTTP binding): a paginated answer carries
``Link`` header values with ``rel="prev"`` and ``rel="next"`` pointing at the neighbouring pages.

The links repeat the request's own query parameters with only ``offset`` (and ``limit``) changed,
so a client can walk a result set without rebuilding its query. There is no ``prev`` on the
first page and no ``next`` on the last one; whether a next page exists is known by reading one
row more than asked (or from the total when it was counted anyway).
"""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web


def _link(request: web.Request, offset: int, limit: int, rel: str) -> str:
    params = [(k, v) for k, v in request.query.items() if k not in ("offset", "limit")]
    params += [("limit", str(limit)), ("offset", str(offset))]
    return f'<{request.path}?{urlencode(params)}>; rel="{rel}"'


def page_links(request: web.Request, offset: int, limit: int, has_next: bool) -> list[str]:
    """The ``Link`` values for the page at ``offset`` of size ``limit`` (none for limit=0)."""
    if limit <= 0:
        return []
    links = []
    if offset > 0:
        links.append(_link(request, max(0, offset - limit), limit, "prev"))
    if has_next:
        links.append(_link(request, offset + limit, limit, "next"))
    return links
