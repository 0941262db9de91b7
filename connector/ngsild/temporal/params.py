"""Temporal query parameters (§6.18.3.2, §6.19.3.1): the entity selection, the time window,
lastN and the representation, checked up front so a bad request never touches storage."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from connector.ngsild.api.pagination import non_negative_int
from connector.ngsild.api.params import datasets_param, projection_of
from connector.ngsild.context import TermMap
from connector.ngsild.errors import bad_data, invalid_request, too_many
from connector.ngsild.model import check_id
from connector.ngsild.query.geo import GeoQuery, parse_geoquery
from connector.ngsild.query.patterns import Pattern, checked_pattern
from connector.ngsild.query.q import Node, parse_q
from connector.ngsild.query.selectors import Expr, expand_expr, parse_types
from connector.ngsild.render import LOCATION
from connector.ngsild.temporal.store import Window
from connector.ngsild.temporal.times import normalize

TIMERELS = ("before", "after", "between")
TIMEPROPERTIES = ("observedAt", "modifiedAt", "createdAt")
OPTIONS = {"temporalValues", "sysAttrs", "normalized"}
MAX_LIMIT = 1000
AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
_DURATION = re.compile(
    r"P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?", re.ASCII
)
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class TemporalQuery:
    ids: list[str] | None
    id_pattern: Pattern | None
    types: Expr | None
    attrs: frozenset[str] | None
    q: Node | None
    geo: GeoQuery | None
    window: Window
    last_n: int | None
    simplified: bool
    sys_attrs: bool
    limit: int
    offset: int
    count: bool
    descending: bool = False  # orderBy=id;desc
    datasets: frozenset[str | None] | None = None  # datasetId filter; None: the default instance


def descending_of(order_by: str | None) -> bool:
    """orderBy on a temporal query (§5.7.4.4) may only name id, with an optional direction."""
    if order_by is None:
        return False
    items = [i.strip() for i in order_by.split(",")]
    directions = set()
    for item in items:
        name, _, direction = item.partition(";")
        if name != "id" or direction not in ("", "asc", "desc"):
            raise bad_data(f"orderBy {order_by!r}: a temporal query can only be ordered by id")
        directions.add(direction == "desc")
    if len(directions) != 1:
        raise bad_data(f"orderBy {order_by!r} orders by id both ways")
    return directions.pop()


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _int(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    return non_negative_int(params, name, 0)


def window_of(params: Mapping[str, str]) -> Window:
    timerel = params.get("timerel")
    prop = params.get("timeproperty", "observedAt")
    if prop not in TIMEPROPERTIES:
        raise bad_data(f"timeproperty must be one of {', '.join(TIMEPROPERTIES)}")
    if timerel is None:
        if "timeAt" in params or "endTimeAt" in params:
            raise bad_data("timeAt and endTimeAt need a timerel (before, after or between)")
        return Window(prop)
    if timerel not in TIMERELS:
        raise bad_data(f"timerel must be one of {', '.join(TIMERELS)}, got {timerel!r}")
    if "timeAt" not in params:
        raise bad_data(f"timerel={timerel} needs timeAt")
    time_at = normalize(params["timeAt"], "timeAt")
    end = None
    if timerel == "between":
        if "endTimeAt" not in params:
            raise bad_data("timerel=between needs endTimeAt")
        end = normalize(params["endTimeAt"], "endTimeAt")
        if end <= time_at:
            raise bad_data("endTimeAt must be after timeAt")
    elif "endTimeAt" in params:
        raise bad_data("endTimeAt is only used with timerel=between")
    return Window(prop, timerel, time_at, end)


def check_aggregation(params: Mapping[str, str]) -> None:
    """aggrMethods and aggrPeriodDuration (§4.5.19): known methods, an ISO 8601 duration."""
    methods = _split(params.get("aggrMethods"))
    if "aggrMethods" in params and not methods:
        raise bad_data("aggrMethods is empty")
    unknown = sorted(set(methods) - set(AGGR_METHODS))
    if unknown:
        raise bad_data(f"aggrMethods {unknown} unknown; known: {', '.join(AGGR_METHODS)}")
    duration = params.get("aggrPeriodDuration")
    if duration is not None and not _DURATION.fullmatch(duration):
        raise bad_data(f"aggrPeriodDuration {duration[:40]!r} is not an ISO 8601 duration")


def temporal_query(
    params: Mapping[str, str], tm: TermMap, *, entity_id: str | None = None
) -> TemporalQuery:
    opts = set(_split(params.get("options")))
    check_aggregation(params)
    if "aggregatedValues" in opts:  # defined by §6.3.12, not implemented here
        raise bad_data("options=aggregatedValues: temporal aggregation is not supported")
    unknown = opts - OPTIONS
    if unknown:
        raise invalid_request(
            f"unknown options {sorted(unknown)}; known: {', '.join(sorted(OPTIONS))}"
        )
    projection_of(params)  # validated like the entity operations' (not applied to histories)
    fmt = params.get("format")
    if fmt is not None and fmt not in ("temporalValues", "normalized"):
        raise invalid_request("format must be temporalValues or normalized")
    window = window_of(params)
    last_n = _int(params, "lastN", None)
    if last_n is not None and last_n < 1:
        raise bad_data("lastN must be a positive integer")
    limit = _int(params, "limit", DEFAULT_LIMIT) or 0
    offset = _int(params, "offset", 0) or 0
    count = params.get("count", "false").lower() == "true"
    if limit > MAX_LIMIT:
        raise too_many(f"limit {limit} exceeds the maximum of {MAX_LIMIT}")
    if limit == 0 and not count and entity_id is None:
        raise bad_data("limit=0 is only allowed together with count=true")
    ids = [check_id(i) for i in _split(params.get("id"))] or None
    if entity_id is not None:
        ids = [entity_id]
    pattern = None
    if "idPattern" in params:
        pattern = checked_pattern(params["idPattern"])
    types = expand_expr(parse_types(params["type"]), tm.expand) if params.get("type") else None
    attrs = frozenset(tm.expand(a) for a in _split(params.get("attrs"))) or None
    q = parse_q(params["q"]) if params.get("q") else None
    geo = None
    if any(k in params for k in ("georel", "geometry", "coordinates")):
        prop = tm.expand(params["geoproperty"]) if params.get("geoproperty") else LOCATION
        geo = parse_geoquery(
            params.get("georel"), params.get("geometry"), params.get("coordinates"), prop
        )
    if entity_id is None and not any((ids, pattern, types, attrs, q, geo)):
        raise bad_data("give at least one of id, idPattern, type, attrs, q or georel")
    return TemporalQuery(
        ids=ids,
        id_pattern=pattern,
        types=types,
        attrs=attrs,
        q=q,
        geo=geo,
        window=window,
        last_n=last_n,
        simplified="temporalValues" in opts or fmt == "temporalValues",
        sys_attrs="sysAttrs" in opts,
        limit=limit,
        offset=offset,
        count=count,
        descending=descending_of(params.get("orderBy")),
        datasets=datasets_param(params.get("datasetId")),
    )
