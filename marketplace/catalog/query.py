"""A search request, validated: what the search API and the CLI send to the index."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from marketplace.catalog.errors import CatalogError

SORTS = ("relevance", "title", "price", "modified")
PRICE_MODELS = ("free", "one_off", "recurring", "metered", "tiered", "freemium")
MAX_LIMIT = 100
MAX_OFFSET = 10_000
_WORD = re.compile(r"[^\W_]+", re.UNICODE)  # letters and digits: what both engines index


@dataclass(frozen=True)
class Query:
    q: str = ""
    type: str | None = None
    keyword: str | None = None
    theme: str | None = None
    publisher: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    price_model: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    free: bool | None = None
    #: free and licensed (open data)
    open: bool | None = None
    license: str | None = None
    frequency: str | None = None
    hvd_category: str | None = None
    sort: str = "relevance"
    limit: int = 20
    offset: int = 0
    facets: bool = False

    @property
    def words(self) -> list[str]:
        """The text query's words (punctuation and operators dropped, at most 16)."""
        return _WORD.findall(self.q.lower())[:16]


def _bad(field: str, expected: str, found: object) -> CatalogError:
    return CatalogError("invalid search parameter", field=field, expected=expected, found=found)


def _int(params: Mapping[str, str], name: str, default: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) > high:
        raise _bad(name, f"an integer 0..{high}", raw)
    return int(raw)


def _decimal(params: Mapping[str, str], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = Decimal(raw) if len(raw) <= 20 else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0:
        raise _bad(name, "a non-negative decimal", raw)
    return value


def _bool(params: Mapping[str, str], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None:
        return None
    if raw not in ("true", "false"):
        raise _bad(name, "true or false", raw)
    return raw == "true"


def _text(params: Mapping[str, str], name: str, limit: int = 500) -> str | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > limit:
        raise _bad(name, f"at most {limit} characters", len(raw))
    return raw


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """``west,south,east,north`` in degrees (WGS 84)."""
    parts = raw.split(",")
    try:
        w, s, e, n = (float(p) for p in parts) if len(parts) == 4 else (math.nan,) * 4
    except ValueError:
        w = s = e = n = math.nan
    ok = all(math.isfinite(v) for v in (w, s, e, n))
    if not ok or not (-180 <= w <= e <= 180 and -90 <= s <= n <= 90):
        raise _bad("bbox", "west,south,east,north with west<=east, south<=north", raw)
    return (w, s, e, n)


def near_bbox(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """The box around a point that contains the circle of ``radius_km`` (for ``--near``)."""
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius_km <= 20_000):
        raise _bad("near", "lat,lon,radius with radius in (0, 20000] km", (lat, lon, radius_km))
    dlat = radius_km / 111.32
    dlon = radius_km / max(1e-6, 111.32 * math.cos(math.radians(lat)))
    return (
        max(-180.0, lon - dlon),
        max(-90.0, lat - dlat),
        min(180.0, lon + dlon),
        min(90.0, lat + dlat),
    )


def parse_query(params: Mapping[str, str]) -> Query:
    """The query from URL parameters; a :class:`CatalogError` naming the bad parameter."""
    known = {
        "q",
        "type",
        "keyword",
        "theme",
        "publisher",
        "bbox",
        "price_model",
        "price_min",
        "price_max",
        "free",
        "license",
        "frequency",
        "hvd_category",
        "sort",
        "limit",
        "offset",
        "facets",
        "open",
    }
    for name in params:
        if name not in known:
            raise _bad(name, "one of " + ", ".join(sorted(known)), name)
    sort = params.get("sort", "relevance")
    if sort not in SORTS:
        raise _bad("sort", " | ".join(SORTS), sort)
    model = params.get("price_model")
    if model is not None and model not in PRICE_MODELS:
        raise _bad("price_model", " | ".join(PRICE_MODELS), model)
    bbox = params.get("bbox")
    return Query(
        q=_text(params, "q", 200) or "",
        type=_text(params, "type"),
        keyword=_text(params, "keyword"),
        theme=_text(params, "theme"),
        publisher=_text(params, "publisher"),
        bbox=parse_bbox(bbox) if bbox else None,
        price_model=model,
        price_min=_decimal(params, "price_min"),
        price_max=_decimal(params, "price_max"),
        free=_bool(params, "free"),
        open=_bool(params, "open"),
        license=_text(params, "license"),
        frequency=_text(params, "frequency"),
        hvd_category=_text(params, "hvd_category"),
        sort=sort,
        limit=_int(params, "limit", 20, MAX_LIMIT) or 20,
        offset=_int(params, "offset", 0, MAX_OFFSET),
        facets=bool(_bool(params, "facets")),
    )
