"""What an agreement lets a data-plane request see: the NGSI-LD narrowing.

The enforcement point cannot evaluate "is this query allowed" without first knowing what to ask
for: it narrows the consumer's query to the permitted entity types, attributes and area, checks
the time window, and counts the request. This module reads those limits out of a permission's
top-level (``and``-connected) constraints. Limits inside ``or``/``xone`` cannot be expressed as one
filter; they are still enforced by the decision, just not offered as a narrowing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry import mapping
from shapely.ops import unary_union

from .durations import Duration
from .evaluator import _counters as rule_counters
from .evaluator import typed_right
from .model import AnyConstraint, Constraint, LogicalConstraint, LogicalOperator, Permission
from .operators import OperatorError, to_geometry
from .report import CounterSpec
from .vocab import AREA, ATTRIBUTE, ENTITY_TYPE, ODRL

_SET_OPS = {ODRL + n for n in ("eq", "isPartOf", "isAnyOf")}


@dataclass(frozen=True, slots=True)
class Narrowing:
    """Limits for one permission (or the union over several).

    ``None`` means "not restricted by this agreement". ``area`` is GeoJSON.
    """

    action: str
    rules: tuple[str, ...]
    entity_types: frozenset[str] | None = None
    attributes: frozenset[str] | None = None
    area: dict[str, Any] | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    counters: tuple[CounterSpec, ...] = ()

    def allows_time(self, now: datetime) -> bool:
        if self.not_before is not None and now < self.not_before:
            return False
        return not (self.not_after is not None and now > self.not_after)


def _flat(cs: Iterable[AnyConstraint]) -> list[Constraint]:
    out: list[Constraint] = []
    for c in cs:
        if isinstance(c, LogicalConstraint):
            if c.operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
                out.extend(_flat(c.constraints))
        else:
            out.append(c)
    return out


def _values(c: Constraint) -> frozenset[str] | None:
    try:
        v = typed_right(c)
    except (ValueError, ArithmeticError):
        return None
    vals = v if isinstance(v, tuple) else (v,)
    return frozenset(str(x) for x in vals)


def _intersect(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def narrowing_of(p: Permission, path: str, start: datetime | None) -> Narrowing:
    types: frozenset[str] | None = None
    attrs: frozenset[str] | None = None
    area: Any = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    for c in _flat((*p.action.refinements, *p.constraints)):
        if c.right_operand is None:
            continue
        if c.left_operand == ENTITY_TYPE and c.operator in _SET_OPS:
            types = _intersect(types, _values(c))
        elif c.left_operand == ATTRIBUTE and c.operator in _SET_OPS:
            attrs = _intersect(attrs, _values(c))
        elif c.left_operand == AREA and c.operator == ODRL + "isPartOf":
            try:
                geom = to_geometry(typed_right(c))
            except (OperatorError, ValueError):
                continue
            area = geom if area is None else area.intersection(geom)
        elif c.left_operand in (ODRL + "dateTime", ODRL + "elapsedTime"):
            try:
                v = typed_right(c)
            except ValueError:
                continue
            if isinstance(v, Duration):
                if start is None:
                    continue
                v = v.add_to(start)
            if not isinstance(v, datetime):
                continue
            if c.operator in (ODRL + "lt", ODRL + "lteq"):
                not_after = v if not_after is None else min(not_after, v)
            elif c.operator in (ODRL + "gt", ODRL + "gteq") and c.left_operand == ODRL + "dateTime":
                not_before = v if not_before is None else max(not_before, v)
    if start is not None and not_before is None:
        not_before = start
    return Narrowing(
        p.action.iri,
        (path,),
        types,
        attrs,
        dict(mapping(area)) if area is not None else None,
        not_before,
        not_after,
        rule_counters(p, path),
    )


def merge_narrowings(items: list[Narrowing]) -> Narrowing:
    """The union of what several permissions allow (each request still meets one of them)."""
    if len(items) == 1:
        return items[0]

    def union(vals: list[frozenset[str] | None]) -> frozenset[str] | None:
        if any(v is None for v in vals):
            return None
        out: frozenset[str] = frozenset()
        for v in vals:
            assert v is not None
            out |= v
        return out

    areas = [n.area for n in items]
    area = None
    if all(a is not None for a in areas):
        area = dict(mapping(unary_union([to_geometry(a) for a in areas])))
    starts = [n.not_before for n in items]
    ends = [n.not_after for n in items]
    return Narrowing(
        items[0].action,
        tuple(r for n in items for r in n.rules),
        union([n.entity_types for n in items]),
        union([n.attributes for n in items]),
        area,
        None if any(s is None for s in starts) else min(s for s in starts if s is not None),
        None if any(e is None for e in ends) else max(e for e in ends if e is not None),
        tuple(c for n in items for c in n.counters),
    )
