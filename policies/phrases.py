"""Small plain-language pieces shared by reports and explanations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .durations import Duration, Elapsed
from .model import Constraint
from .values import IRI, Literal
from .vocab import ODRL, short

OPERATOR_PHRASES = {
    "eq": "must be",
    "neq": "must not be",
    "gt": "must be more than",
    "gteq": "must be at least",
    "lt": "must be less than",
    "lteq": "must be at most",
    "isA": "must be a kind of",
    "hasPart": "must include",
    "isPartOf": "must be within",
    "isAllOf": "must be all of",
    "isAnyOf": "must be one of",
    "isNoneOf": "must be none of",
}

CONDITION_PHRASES = {
    "eq": "is",
    "neq": "is not",
    "gt": "is more than",
    "gteq": "is at least",
    "lt": "is less than",
    "lteq": "is at most",
    "isA": "is a kind of",
    "hasPart": "includes",
    "isPartOf": "is within",
    "isAllOf": "is all of",
    "isAnyOf": "is one of",
    "isNoneOf": "is none of",
}

WINDOW_PHRASES = {
    "perHour": "per hour",
    "perDay": "per day",
    "perWeek": "per week",
    "perMonth": "per month",
    "perYear": "per year",
}


def show(value: Any) -> str:
    """A short human rendering of a value."""
    if isinstance(value, datetime):
        text = value.strftime("%d %B %Y %H:%M UTC").lstrip("0")
        return text.replace(" 00:00 UTC", "")
    if isinstance(value, date):
        return value.strftime("%d %B %Y").lstrip("0")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return f"{value:,f}" if value == value.to_integral_value() else str(value)
    if isinstance(value, Duration):
        return humanize_duration(value)
    if isinstance(value, Elapsed):
        days = (value.now - value.start).days
        return f"{days:,} days since {show(value.start)}"
    if isinstance(value, IRI):
        return short(str(value))
    if isinstance(value, Literal):
        return value.lexical
    if isinstance(value, tuple | list | frozenset | set):
        items = [show(v) for v in value]
        return ", ".join(items) if items else "nothing"
    if isinstance(value, str):
        return short(value)
    if isinstance(value, dict):
        return "the given area" if "type" in value else str(value)
    return str(value)


def humanize_duration(d: Duration) -> str:
    if d.months and not d.seconds:
        if d.months % 12 == 0:
            n = d.months // 12
            return f"{n} year" + ("s" if n != 1 else "")
        return f"{d.months} month" + ("s" if d.months != 1 else "")
    if not d.months and d.seconds and d.seconds % 86400 == 0:
        n = int(d.seconds // 86400)
        return f"{n} day" + ("s" if n != 1 else "")
    if not d.months and d.seconds and d.seconds % 3600 == 0:
        n = int(d.seconds // 3600)
        return f"{n} hour" + ("s" if n != 1 else "")
    return str(d)


def op_phrase(operator: str, condition: bool = False) -> str:
    """ "must be at most" (a requirement) or, with ``condition``, "is at most"."""
    name = operator[len(ODRL) :] if operator.startswith(ODRL) else operator
    table = CONDITION_PHRASES if condition else OPERATOR_PHRASES
    return table.get(name, f"satisfies {short(operator)}")


def constraint_text(c: Constraint, right: Any, label: str) -> str:
    """ "the declared purpose must be one of research, education"."""
    return f"{label} {op_phrase(c.operator)} {show(right)}"
