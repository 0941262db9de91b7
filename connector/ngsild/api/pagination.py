"""Pagination links (NGSI-LD v1.8 §5.5.9 and its HTTP binding): a paginated answer carries
``Link`` header values with ``rel="prev"`` and ``rel="next"`` pointing at the neighbouring pages.

The links repeat the request's own query parameters with only ``offset`` (and ``limit``) changed,
so a client can walk a result set without rebuilding its query. There is no ``prev`` on the
first page and no ``next`` on the last one; whether a next page exists is known by reading one
row more than asked (or from the total when it was counted anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from aiohttp import web

from connector.ngsild.errors import bad_data, too_many

T = TypeVar("T")
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20


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


#: Largest offset or limit read from a request: far beyond any collection, and within the 64-bit
#: integers SQLite and PostgreSQL bind (a larger one was an OverflowError, answered 500).
MAX_INTEGER_PARAM = 2**53


def non_negative_int(params: Mapping[str, Any], name: str, default: int) -> int:
    """A parameter of ASCII digits (no sign, spaces or ``_`` as Python's int() allows) up to
    :data:`MAX_INTEGER_PARAM`, or BadRequestData naming it."""
    raw = params.get(name)
    if raw is None:
        return default
    if not isinstance(raw, str) or not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
        raise bad_data(f"{name} must be a non-negative integer, got {str(raw)[:40]!r}")
    value = int(raw)
    if value > MAX_INTEGER_PARAM:
        raise bad_data(f"{name} must be at most {MAX_INTEGER_PARAM}, got {raw}")
    return value


@dataclass(frozen=True)
class Window:
    """``limit``, ``offset`` and ``count`` of a paginated list request, checked as for entity
    queries: limit at most MAX_LIMIT, limit=0 only to ask for the count alone."""

    limit: int
    offset: int
    count: bool

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Window:
        limit = non_negative_int(params, "limit", DEFAULT_LIMIT)
        offset = non_negative_int(params, "offset", 0)
        count = str(params.get("count", "false")).lower() == "true"
        if limit > MAX_LIMIT:
            raise too_many(f"limit {limit} exceeds the maximum of {MAX_LIMIT}")
        if limit == 0 and not count:
            raise bad_data("limit=0 is only allowed together with count=true")
        return cls(limit, offset, count)

    def page(self, items: Sequence[T]) -> list[T]:
        """This window's slice of a whole (already ordered) list."""
        return list(items[self.offset : self.offset + self.limit])

    def links(self, request: web.Request, total: int) -> list[str]:
        return page_links(request, self.offset, self.limit, self.offset + self.limit < total)
