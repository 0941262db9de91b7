"""Query parameters (and the batch Query body) turned into a store plan and a render view."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape

from connector.ngsild.api.pagination import Window
from connector.ngsild.context import TermMap
from connector.ngsild.errors import bad_data, invalid_request
from connector.ngsild.model import check_geometry, check_id
from connector.ngsild.pep import AccessScope
from connector.ngsild.query.geo import bbox_of, parse_geoquery
from connector.ngsild.query.patterns import checked_pattern
from connector.ngsild.query.projection import parse_projection
from connector.ngsild.query.q import attribute_names, compile_q, parse_q
from connector.ngsild.query.selectors import (
    expand_expr,
    matches_scope,
    parse_scope_q,
    parse_types,
)
from connector.ngsild.render import LOCATION, View
from connector.ngsild.store import QueryPlan, push_q

FORMATS = ("normalized", "concise", "keyValues")
OPTIONS = {
    "keyValues",
    "concise",
    "normalized",
    "sysAttrs",
    "noOverwrite",
    "replace",
    "update",
    "simplified",
}


#: system attributes (§4.8): filters naming only these do not narrow a query (§5.7.2.4)
SYSTEM_ATTRS = frozenset({"createdAt", "modifiedAt", "deletedAt", "observedAt", "expiresAt"})


def names_non_system(names: Iterable[str]) -> bool:
    return any(n not in SYSTEM_ATTRS for n in names)


def split(value: str | None) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def options(params: Mapping[str, str]) -> set[str]:
    opts = set(split(params.get("options")))
    unknown = opts - OPTIONS
    if unknown:
        raise invalid_request(
            f"unknown options {sorted(unknown)}; known: {', '.join(sorted(OPTIONS))}"
        )
    return opts


def view_for(params: Mapping[str, str], tm: TermMap, scope: AccessScope) -> View:
    opts = options(params)
    fmt = params.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise invalid_request(f"format must be one of {', '.join(FORMATS)}")
    if fmt is None:
        fmt = "normalized"
        if "keyValues" in opts or "simplified" in opts:
            fmt = "keyValues"
        elif "concise" in opts:
            fmt = "concise"
    attrs = attrs_param(params.get("attrs"), tm)
    if scope.attributes is not None:
        attrs = scope.attributes if attrs is None else attrs & scope.attributes
    pick, omit = projection_of(params)
    lang = params.get("lang")
    if lang is not None and not re.fullmatch(r"[A-Za-z0-9\-*,;=. ]{1,100}", lang):
        raise bad_data(f"lang {lang!r} is not a language tag list")
    return View(
        fmt=fmt,
        sys_attrs="sysAttrs" in opts,
        lang=lang,
        attrs=attrs,
        pick=pick,
        omit=omit,
        datasets=datasets_param(params.get("datasetId")),
    )


def datasets_param(raw: str | None) -> frozenset[str | None] | None:
    """datasetId=a,b,@none: the instances to show; ``@none`` names the default instance."""
    if raw is None:
        return None
    names = split(raw)
    if not names:
        raise bad_data("datasetId is empty")
    return frozenset(None if n == "@none" else check_id(n, "datasetId") for n in names)


def projection_of(params: Mapping[str, str]) -> tuple[frozenset[str] | None, frozenset[str]]:
    """pick and omit (§4.21): well-formed, not beside attrs, disjoint, nested only with join."""
    parsed = {}
    for name in ("pick", "omit"):
        raw = params.get(name)
        if raw is None:
            continue
        proj = parse_projection(raw, name)
        if proj.nested and params.get("join") is None:
            raise bad_data(f"{name}: members of linked entities need the join parameter")
        parsed[name] = proj.names
    if parsed and params.get("attrs") is not None:
        raise bad_data(f"{' and '.join(parsed)} cannot be combined with attrs")
    pick = parsed.get("pick")
    omit = parsed.get("omit", frozenset())
    if pick is not None and pick & omit:
        raise bad_data(f"{sorted(pick & omit)} cannot be both picked and omitted")
    return pick, omit


def attrs_param(raw: str | list[str] | None, tm: TermMap) -> frozenset[str] | None:
    names = split(raw) if isinstance(raw, str) or raw is None else raw
    if not names:
        return None
    return frozenset(tm.expand(n) for n in names)


@dataclass(frozen=True)
class Selection:
    """The entity selection of a query: from URL parameters or a batch Query body."""

    ids: list[str] | None = None
    id_pattern: str | None = None
    types: str | None = None
    attrs: list[str] | None = None
    q: str | None = None
    scope_q: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None


def selection_from_params(params: Mapping[str, str]) -> Selection:
    ids = split(params.get("id"))
    return Selection(
        ids=ids or None,
        id_pattern=params.get("idPattern"),
        types=params.get("type"),
        attrs=split(params.get("attrs")) or None,
        q=params.get("q"),
        scope_q=params.get("scopeQ"),
        georel=params.get("georel"),
        geometry=params.get("geometry"),
        coordinates=params.get("coordinates"),
        geoproperty=params.get("geoproperty"),
    )


def plan_for(
    sel: Selection,
    params: Mapping[str, Any],
    tm: TermMap,
    scope: AccessScope,
    *,
    require_filter: bool = True,
) -> QueryPlan:
    window = Window.of(params)
    if sel.q and "{" in sel.q and not params.get("join"):
        raise bad_data("q on linked entities (a{b}) needs the join parameter (§5.7.2.4)")
    csf = params.get("csf")
    if csf is not None:
        parse_q(csf)  # the context source filter shares q's grammar; only its syntax matters here
    if require_filter and not any(
        (
            sel.ids,
            sel.id_pattern,
            sel.types,
            names_non_system(sel.attrs or []),
            sel.q and names_non_system(attribute_names(parse_q(sel.q))),
            sel.georel,
            sel.scope_q,
        )
    ):
        raise bad_data(
            "too wide: give at least one of id, idPattern, type, attrs or q naming a non-system "
            "attribute, georel or scopeQ"
        )
    plan = QueryPlan(limit=window.limit, offset=window.offset, count=window.count)
    plan.allowed_types = scope.entity_types
    plan.allowed_attrs = scope.attributes
    if sel.ids:
        plan.ids = [check_id(i) for i in sel.ids]
    if sel.id_pattern is not None:
        plan.id_pattern = checked_pattern(sel.id_pattern)
    if sel.types:
        plan.types = expand_expr(parse_types(sel.types), tm.expand)
    if sel.attrs:
        plan.attrs = frozenset(tm.expand(a) for a in sel.attrs)
    predicates = []
    if sel.q:
        tree = parse_q(sel.q)
        plan.q_sql, plan.q_exact = push_q(tree, tm.expand, scope.attributes)
        if not plan.q_exact:
            predicates.append(compile_q(tree, tm.expand, scope.attributes))
    if sel.scope_q:
        scope_expr = parse_scope_q(sel.scope_q)
        predicates.append(lambda doc: matches_scope(scope_expr, doc.get("scope") or []))
    if predicates:
        plan.predicate = (
            predicates[0] if len(predicates) == 1 else lambda doc: all(p(doc) for p in predicates)
        )
    if sel.georel or sel.geometry or sel.coordinates:
        prop = tm.expand(sel.geoproperty) if sel.geoproperty else LOCATION
        plan.geo = parse_geoquery(sel.georel, sel.geometry, sel.coordinates, prop)
    if scope.area is not None:
        area = check_geometry(scope.area, "access area")
        plan.area = shape(area)
        plan.area_box = bbox_of(area)
    return plan


def selection_from_query_body(
    body: Any, *, temporal: bool = False
) -> tuple[Selection, list[Selection]]:
    """The batch Query (§5.2.23): entity selectors become one selection each (OR-ed)."""
    if not isinstance(body, dict):
        raise bad_data("the Query must be a JSON object")
    if body.get("type", "Query") != "Query":
        raise bad_data("the body's type must be 'Query'")
    if "temporalQ" in body and not temporal:
        raise bad_data("temporalQ belongs to the temporal query only (Table 5.2.23-1)")
    for key in ("entities", "attrs"):
        if body.get(key) == []:
            raise bad_data(f"{key} cannot be an empty array (Table 5.2.23-1)")
    level = body.get("joinLevel")
    if level is not None and (isinstance(level, bool) or not isinstance(level, int) or level < 1):
        raise bad_data(f"joinLevel must be a positive integer, got {level!r}")
    geo = body.get("geoQ") or {}
    if not isinstance(geo, dict):
        raise bad_data("geoQ must be an object")
    attrs = body.get("attrs")
    if attrs is not None and (
        not isinstance(attrs, list) or not all(isinstance(a, str) for a in attrs)
    ):
        raise bad_data("attrs must be a list of attribute names")
    for key in ("q", "scopeQ"):
        _optional_str(body, key, key)
    for key in ("georel", "geometry", "geoproperty"):
        _optional_str(geo, key, f"geoQ.{key}")
    if geo.get("coordinates") is not None and not isinstance(geo["coordinates"], str | list):
        raise bad_data("geoQ.coordinates must be an array or its JSON text")
    base = Selection(
        attrs=attrs or None,
        q=body.get("q"),
        scope_q=body.get("scopeQ"),
        georel=geo.get("georel"),
        geometry=geo.get("geometry"),
        coordinates=geo.get("coordinates"),
        geoproperty=geo.get("geoproperty"),
    )
    selectors = body.get("entities") or []
    if not isinstance(selectors, list) or not all(isinstance(s, dict) for s in selectors):
        raise bad_data("entities must be a list of EntitySelector objects")
    out = []
    for n, s in enumerate(selectors):
        ids = s.get("id")
        if (
            ids is not None
            and not isinstance(ids, str)
            and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids))
        ):
            raise bad_data(f"entities[{n}].id must be a URI")
        _optional_str(s, "idPattern", f"entities[{n}].idPattern")
        _optional_str(s, "type", f"entities[{n}].type")
        out.append(
            Selection(
                ids=[ids] if isinstance(ids, str) else ids,
                id_pattern=s.get("idPattern"),
                types=s.get("type"),
            )
        )
    return base, out


def _optional_str(obj: dict[str, Any], key: str, where: str) -> None:
    """Members the query parsers read as text: anything else is the client's error, named."""
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise bad_data(f"{where} must be a string, got {type(value).__name__}")
