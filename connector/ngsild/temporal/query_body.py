"""The body of POST /temporal/entityOperations/query (§5.7.4, §6.24): a Query (§5.2.23) with a
``temporalQ`` (§5.2.21), read into the same parameter mapping the GET query takes, so both
bindings share one validation and one runner."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from connector.ngsild.api.params import selection_from_query_body
from connector.ngsild.errors import bad_data

_TEXT_MEMBERS = ("timerel", "timeAt", "endTimeAt", "timeproperty", "aggrPeriodDuration")


def _text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_data(f"{where}.{key} must be a string, got {type(value).__name__}")
    return value


def _temporal(tq: Any, out: dict[str, str], where: str) -> None:
    if not isinstance(tq, dict):
        raise bad_data(f"{where} must be an object")
    for key in _TEXT_MEMBERS:
        value = _text(tq, key, where)
        if value is not None:
            out[key] = value
    last_n = tq.get("lastN")
    if last_n is not None:
        if isinstance(last_n, bool) or not isinstance(last_n, int) or last_n < 1:
            raise bad_data(f"{where}.lastN must be a positive integer, got {last_n!r}")
        out["lastN"] = str(last_n)
    methods = tq.get("aggrMethods")
    if methods is not None:
        if isinstance(methods, list) and all(isinstance(m, str) for m in methods):
            out["aggrMethods"] = ",".join(methods)
        elif isinstance(methods, str):
            out["aggrMethods"] = methods
        else:
            raise bad_data(f"{where}.aggrMethods must be a list of strings or a string")


def _selectors(body: dict[str, Any], out: dict[str, str]) -> None:
    """The entity selectors, OR-ed: one selector as it is; several only when they all name
    ids alone or types alone (the GET binding's id and type lists express just these)."""
    _, selectors = selection_from_query_body(body, temporal=True)
    if not selectors:
        return
    if len(selectors) == 1:
        s = selectors[0]
        if s.ids:
            out["id"] = ",".join(s.ids)
        if s.id_pattern is not None:
            out["idPattern"] = s.id_pattern
        if s.types:
            out["type"] = s.types
        return
    types = [s.types for s in selectors if s.types and not s.ids and s.id_pattern is None]
    if len(types) == len(selectors):
        out["type"] = ",".join(f"({t})" if "," in t else t for t in types)
    elif all(s.ids and not s.types and s.id_pattern is None for s in selectors):
        out["id"] = ",".join(i for s in selectors for i in s.ids or [])
    else:
        raise bad_data("several entity selectors must each give only ids or only types")


def params_of_query(body: Any, url_params: Mapping[str, str]) -> dict[str, str]:
    """The GET parameters equivalent to this Query (the URL's paging and format kept)."""
    if not isinstance(body, dict):
        raise bad_data("the Query must be a JSON object")
    if body.get("type") != "Query":
        raise bad_data("the body's type must be 'Query'")
    out = dict(url_params)
    _selectors(body, out)
    attrs = body.get("attrs")
    if attrs:
        out["attrs"] = ",".join(attrs)  # shape checked by selection_from_query_body
    for key in ("q", "scopeQ"):
        if body.get(key) is not None:
            out[key] = body[key]
    geo = body.get("geoQ") or {}
    for key in ("georel", "geometry", "geoproperty"):
        if geo.get(key) is not None:
            out[key] = geo[key]
    coords = geo.get("coordinates")
    if coords is not None:
        out["coordinates"] = coords if isinstance(coords, str) else json.dumps(coords)
    if "temporalQ" in body:
        _temporal(body["temporalQ"], out, "temporalQ")
    if "aggrParams" in body:  # an older spelling of the aggregation members
        _temporal(body["aggrParams"], out, "aggrParams")
    return out
