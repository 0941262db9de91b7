"""Typed values: parsing right operands and comparing them with values from the world.

One module owns the meaning of "equal" and "less than" so the reference evaluator and the compiled
fast path cannot drift apart: both call :func:`compare` and :func:`equals`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .durations import Duration, Elapsed, IncomparableError
from .vocab import (
    RDF_JSON,
    XSD,
    XSD_ANYURI,
    XSD_BOOLEAN,
    XSD_DATE,
    XSD_DATETIME,
    XSD_DECIMAL,
    XSD_DOUBLE,
    XSD_DURATION,
    XSD_STRING,
)

__all__ = [
    "IRI",
    "IncomparableError",
    "Literal",
    "compare",
    "equals",
    "parse_datetime",
    "to_python",
]


class IRI(str):
    """A string that is an IRI (a node reference), not a literal."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"IRI({str.__repr__(self)})"


@dataclass(frozen=True, slots=True)
class Literal:
    """An RDF literal as written: lexical form plus datatype (or language)."""

    lexical: str
    datatype: str | None = None
    language: str | None = None


INTEGER_TYPES = frozenset(
    XSD + t
    for t in (
        "integer",
        "int",
        "long",
        "short",
        "byte",
        "nonNegativeInteger",
        "positiveInteger",
        "nonPositiveInteger",
        "negativeInteger",
        "unsignedInt",
        "unsignedLong",
    )
)


def parse_datetime(text: str) -> datetime:
    """xsd:dateTime; a value without a time zone is taken as UTC (the data-space convention)."""
    t = text.strip()
    if "T" not in t:
        raise ValueError(f"{text!r} is not an xsd:dateTime")
    if t.endswith("z"):
        t = t[:-1] + "Z"
    value = datetime.fromisoformat(t)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_date(text: str) -> date:
    t = text.strip()
    if t.endswith("Z"):
        t = t[:-1]
    return date.fromisoformat(t)


def to_python(value: IRI | Literal, hint: str | None = None) -> Any:
    """The comparable Python value of a right operand.

    ``hint`` is the datatype the left operand implies; it types plain strings such as the
    ``"2023-12-31T06:00Z"`` DSP writes without ``@type``. Raises ``ValueError`` on a bad lexical
    form so parsing can reject the policy with its path.
    """
    if isinstance(value, IRI):
        return str(value)
    dt = value.datatype
    if dt is None or dt == XSD_STRING:
        dt = hint if hint is not None else dt
    lex = value.lexical
    if dt is None or dt in (XSD_STRING, XSD_ANYURI):
        return lex
    if dt in INTEGER_TYPES:
        return int(lex.strip())
    if dt in (XSD_DECIMAL, XSD_DOUBLE, XSD + "float"):
        try:
            return Decimal(lex.strip())
        except InvalidOperation:
            raise ValueError(f"{lex!r} is not a number") from None
    if dt == XSD_BOOLEAN:
        if lex.strip() in ("true", "1"):
            return True
        if lex.strip() in ("false", "0"):
            return False
        raise ValueError(f"{lex!r} is not an xsd:boolean")
    if dt == XSD_DATETIME:
        return parse_datetime(lex)
    if dt == XSD_DATE:
        return parse_date(lex)
    if dt == XSD_DURATION:
        return Duration.parse(lex)
    if dt == RDF_JSON:
        return json.loads(lex)
    return lex


def _num(v: Any) -> bool:
    return isinstance(v, int | Decimal | float) and not isinstance(v, bool)


def _as_datetime(v: date) -> datetime:
    if isinstance(v, datetime):
        return v
    return datetime(v.year, v.month, v.day, tzinfo=UTC)


def compare(left: Any, right: Any) -> int:
    """Order ``left`` against ``right``: -1, 0 or 1. Raises :class:`IncomparableError`."""
    if _num(left) and _num(right):
        return (left > right) - (left < right)
    if isinstance(left, date) and isinstance(right, date):
        a, b = _as_datetime(left), _as_datetime(right)
        return (a > b) - (a < b)
    if isinstance(right, Duration):
        if isinstance(left, Elapsed):
            return left.compare(right)
        if isinstance(left, timedelta):
            return Duration.of(left).compare(right)
        if isinstance(left, Duration):
            return left.compare(right)
    raise IncomparableError(
        f"{type(left).__name__} {left!r} cannot be ordered against {type(right).__name__} {right!r}"
    )


def equals(left: Any, right: Any) -> bool:
    """Typed equality. Strings compare as strings; a type mismatch is an error, not ``False``.

    Treating "5" vs 5 as merely unequal would let ``neq`` pass on a malformed world value.
    """
    if isinstance(left, str) and isinstance(right, str):
        return left == right
    if isinstance(left, bool) or isinstance(right, bool):
        if isinstance(left, bool) and isinstance(right, bool):
            return left == right
        raise IncomparableError(f"{left!r} and {right!r} are not both booleans")
    if isinstance(left, dict) or isinstance(right, dict):
        return bool(left == right)
    return compare(left, right) == 0
