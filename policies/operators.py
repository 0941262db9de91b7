"""The twelve ODRL operators with typed, fail-closed semantics.

Set-based operators read a scalar as a one-element set. With ``L`` the left values and ``R`` the
right operand's values:

* ``isAnyOf``: some l ∈ L is in R · ``isNoneOf``: no l ∈ L is in R
* ``isAllOf``: every r ∈ R is in L
* ``isPartOf``: every l ∈ L is in R or below some r in the taxonomy (request ⊆ permitted)
* ``hasPart``: every r ∈ R is in L or below some l in the taxonomy
* ``isA``: some l ∈ L equals R or has R as a broader term
* ``eq``/``neq`` on a multi-valued operand: some / no value equals R

Anything undefined (ordering strings, a list where a single value is needed, an unknown operator)
raises :class:`OperatorError`; evaluators turn that into a failed constraint with the reason.
For the geometric operand ``ngsi-ld:area`` the set operators are spatial: ``isPartOf`` is "covered
by", ``hasPart`` "covers", ``eq`` geometric equality and ``isAnyOf`` "intersects".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from . import safe_json
from .values import IncomparableError, compare, equals
from .vocab import ODRL
from .world import World


class OperatorError(ValueError):
    """An operator is unknown or undefined for the values it was given."""


def is_set(v: Any) -> bool:
    return isinstance(v, tuple | list | frozenset | set)


def elems(v: Any) -> tuple[Any, ...]:
    return tuple(v) if is_set(v) else (v,)


def member(x: Any, coll: tuple[Any, ...]) -> bool:
    return any(equals(x, c) for c in coll)


def _single(op: str, right: Any) -> Any:
    if is_set(right):
        raise OperatorError(f"{op} needs a single right operand, got a list")
    return right


def _ordered(op: str, left: Any, right: Any) -> int:
    if is_set(left):
        raise OperatorError(f"{op} cannot order a set of values")
    return compare(left, _single(op, right))


def _below(x: Any, target: Any, world: World | None) -> bool:
    return world is not None and target in world.ancestors(x)


def op_eq(left: Any, right: Any, world: World | None = None) -> bool:
    right = _single("eq", right)
    if is_set(left):
        return any(equals(v, right) for v in left)
    return equals(left, right)


def op_neq(left: Any, right: Any, world: World | None = None) -> bool:
    right = _single("neq", right)
    if is_set(left):
        return not any(equals(v, right) for v in left)
    return not equals(left, right)


def op_gt(left: Any, right: Any, world: World | None = None) -> bool:
    return _ordered("gt", left, right) > 0


def op_gteq(left: Any, right: Any, world: World | None = None) -> bool:
    return _ordered("gteq", left, right) >= 0


def op_lt(left: Any, right: Any, world: World | None = None) -> bool:
    return _ordered("lt", left, right) < 0


def op_lteq(left: Any, right: Any, world: World | None = None) -> bool:
    return _ordered("lteq", left, right) <= 0


def op_is_a(left: Any, right: Any, world: World | None = None) -> bool:
    right = _single("isA", right)
    return any(equals(v, right) or _below(v, right, world) for v in elems(left))


def op_has_part(left: Any, right: Any, world: World | None = None) -> bool:
    lv = elems(left)
    return all(any(equals(v, r) or _below(r, v, world) for v in lv) for r in elems(right))


def op_is_part_of(left: Any, right: Any, world: World | None = None) -> bool:
    rv = elems(right)
    return all(any(equals(v, r) or _below(v, r, world) for r in rv) for v in elems(left))


def op_is_all_of(left: Any, right: Any, world: World | None = None) -> bool:
    lv = elems(left)
    return all(member(r, lv) for r in elems(right))


def op_is_any_of(left: Any, right: Any, world: World | None = None) -> bool:
    rv = elems(right)
    return any(member(v, rv) for v in elems(left))


def op_is_none_of(left: Any, right: Any, world: World | None = None) -> bool:
    rv = elems(right)
    return not any(member(v, rv) for v in elems(left))


Operator = Callable[[Any, Any, World | None], bool]

OPERATORS: dict[str, Operator] = {
    ODRL + "eq": op_eq,
    ODRL + "neq": op_neq,
    ODRL + "gt": op_gt,
    ODRL + "gteq": op_gteq,
    ODRL + "lt": op_lt,
    ODRL + "lteq": op_lteq,
    ODRL + "isA": op_is_a,
    ODRL + "hasPart": op_has_part,
    ODRL + "isPartOf": op_is_part_of,
    ODRL + "isAllOf": op_is_all_of,
    ODRL + "isAnyOf": op_is_any_of,
    ODRL + "isNoneOf": op_is_none_of,
}


def to_geometry(value: Any) -> BaseGeometry:
    """A shapely geometry from GeoJSON (dict or text), a bbox list or ``"minx,miny,maxx,maxy"``."""
    if isinstance(value, BaseGeometry):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                safe_json.loads(text)
                if text.startswith("{")
                else [float(x) for x in text.split(",")]
            )
        except ValueError:
            raise OperatorError(f"{value!r} is not an area (GeoJSON geometry or bbox)") from None
    if isinstance(value, dict):
        if value.get("type") == "Feature":
            value = value.get("geometry")
        try:
            return shape(value)
        except Exception as exc:
            raise OperatorError(f"not a GeoJSON geometry: {exc}") from None
    if is_set(value) and len(value) == 4:
        try:
            minx, miny, maxx, maxy = (float(x) for x in value)
        except (TypeError, ValueError):
            raise OperatorError(f"{value!r} is not a bbox") from None
        return box(minx, miny, maxx, maxy)
    raise OperatorError(f"{value!r} is not an area (GeoJSON geometry or bbox)")


def geo_apply(op: str, left: Any, right: Any) -> bool:
    """Spatial meaning of an operator for ``ngsi-ld:area``."""
    a, b = to_geometry(left), to_geometry(right)
    name = op[len(ODRL) :] if op.startswith(ODRL) else op
    if name == "isPartOf":
        return bool(a.covered_by(b))
    if name == "hasPart":
        return bool(a.covers(b))
    if name == "eq":
        return bool(a.equals(b))
    if name == "neq":
        return not a.equals(b)
    if name == "isAnyOf":
        return bool(a.intersects(b))
    if name == "isNoneOf":
        return not a.intersects(b)
    raise OperatorError(f"operator {name} is not defined on areas")


def apply(op: str, left: Any, right: Any, world: World | None, geometry: bool = False) -> bool:
    """Evaluate ``left op right``; raises :class:`OperatorError` when undefined."""
    if geometry:
        return geo_apply(op, left, right)
    fn = OPERATORS.get(op)
    if fn is None:
        raise OperatorError(f"operator {op} is not supported")
    try:
        return fn(left, right, world)
    except IncomparableError as exc:
        raise OperatorError(str(exc)) from None
