"""Every operator with typed comparison, durations, and the fail-closed cases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from policies.durations import Duration, Elapsed, IncomparableError, format_duration
from policies.operators import OperatorError, apply, geo_apply
from policies.values import IRI, Literal, compare, equals, to_python
from policies.vocab import ODRL, XSD
from policies.world import World

T = datetime(2026, 3, 1, tzinfo=UTC)
WORLD = World(now=T, broader={"cat": ["mammal"], "mammal": ["animal"], "Madrid": ["ES"]})


def op(name: str, left: Any, right: Any, world: World | None = WORLD) -> bool:
    return apply(ODRL + name, left, right, world)


@pytest.mark.parametrize(
    ("name", "left", "right", "expected"),
    [
        ("eq", "a", "a", True),
        ("eq", "a", "b", False),
        ("eq", 5, Decimal("5.0"), True),
        ("eq", T, datetime(2026, 3, 1, 1, 0, tzinfo=UTC), False),
        ("eq", ("a", "b"), "b", True),
        ("neq", "a", "b", True),
        ("neq", ("a", "b"), "b", False),
        ("gt", 6, 5, True),
        ("gt", 5, 5, False),
        ("gteq", 5, 5, True),
        ("gteq", Decimal("4.99"), 5, False),
        ("lt", T, T + timedelta(seconds=1), True),
        ("lteq", T, T, True),
        ("lteq", date(2026, 3, 1), date(2026, 2, 28), False),
        ("lt", T, date(2026, 3, 2), True),
        ("lteq", Duration.parse("P1D"), Duration.parse("PT24H"), True),
        ("lt", Duration.parse("P1M"), Duration.parse("P32D"), True),
        ("gt", timedelta(days=2), Duration.parse("P1D"), True),
        ("lteq", Elapsed(T, T + timedelta(days=29)), Duration.parse("P1M"), True),
        ("lteq", Elapsed(T, T + timedelta(days=32)), Duration.parse("P1M"), False),
        ("isA", "cat", "animal", True),
        ("isA", "cat", "plant", False),
        ("isA", "cat", "cat", True),
        ("hasPart", ("a", "b", "c"), ("a", "c"), True),
        ("hasPart", ("a",), ("a", "z"), False),
        ("hasPart", "ES", "Madrid", True),
        ("isPartOf", ("a", "b"), ("a", "b", "c"), True),
        ("isPartOf", ("a", "z"), ("a", "b"), False),
        ("isPartOf", "Madrid", "ES", True),
        ("isAllOf", ("en", "es", "fr"), ("en", "es"), True),
        ("isAllOf", ("en",), ("en", "es"), False),
        ("isAnyOf", "research", ("research", "education"), True),
        ("isAnyOf", ("ads", "research"), ("research",), True),
        ("isAnyOf", "ads", ("research", "education"), False),
        ("isNoneOf", "mobility", ("ads", "insurance"), True),
        ("isNoneOf", ("mobility", "ads"), ("ads", "insurance"), False),
        ("eq", True, True, True),
    ],
)
def test_operator(name: str, left: Any, right: Any, expected: bool) -> None:
    assert op(name, left, right) is expected


@pytest.mark.parametrize(
    ("name", "left", "right"),
    [
        ("lt", "a", "b"),  # strings have no order
        ("gt", 5, "4"),  # type mismatch is an error, not False
        ("eq", "5", 5),
        ("neq", "5", 5),  # … so neq cannot pass on a malformed value
        ("eq", "a", ("a", "b")),  # eq needs a single right operand
        ("lteq", ("a",), 5),
        ("lteq", Duration.parse("P1M"), Duration.parse("P30D")),  # months vs days: no order
        ("eq", True, 1),
    ],
)
def test_undefined_comparisons_raise(name: str, left: Any, right: Any) -> None:
    with pytest.raises(OperatorError):
        op(name, left, right)


def test_unknown_operator_raises() -> None:
    with pytest.raises(OperatorError):
        apply(ODRL + "approximately", 1, 1, None)


def test_geometry_operators() -> None:
    city = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    assert geo_apply(ODRL + "isPartOf", [1, 1, 2, 2], city)
    assert not geo_apply(ODRL + "isPartOf", [5, 5, 12, 12], city)
    assert geo_apply(ODRL + "hasPart", city, "1,1,2,2")
    assert geo_apply(ODRL + "eq", [0, 0, 10, 10], city)
    assert geo_apply(ODRL + "neq", [0, 0, 1, 1], city)
    assert geo_apply(ODRL + "isAnyOf", [5, 5, 12, 12], city)
    assert geo_apply(ODRL + "isNoneOf", [20, 20, 22, 22], city)
    point = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [3, 3]}}
    assert geo_apply(
        ODRL + "isPartOf",
        point,
        '{"type": "Polygon", "coordinates": [[[0,0],[10,0],[10,10],[0,0]]]}',
    )
    with pytest.raises(OperatorError):
        geo_apply(ODRL + "gt", point, city)
    with pytest.raises(OperatorError):
        geo_apply(ODRL + "isPartOf", {"type": "Nope"}, city)


@pytest.mark.parametrize(
    ("text", "months", "seconds"),
    [
        ("P1Y2M", 14, 0),
        ("P3DT4H5M6.5S", 0, Decimal(3 * 86400 + 4 * 3600 + 5 * 60) + Decimal("6.5")),
        ("PT36H", 0, 36 * 3600),
        ("P2W", 0, 14 * 86400),
        ("-P1D", 0, -86400),
    ],
)
def test_duration_parse(text: str, months: int, seconds: Any) -> None:
    d = Duration.parse(text)
    assert (d.months, d.seconds) == (months, Decimal(seconds))
    assert Duration.parse(format_duration(d)).compare(d) == 0


@pytest.mark.parametrize("text", ["P", "PT", "1D", "P1.5D", "PT1H2D", "P1DT", "", "P-1D"])
def test_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Duration.parse(text)


def test_duration_month_arithmetic_clamps() -> None:
    assert Duration.parse("P1M").add_to(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert (
        Duration.parse("P1M").compare(Duration.parse("P28D"), datetime(2026, 2, 1, tzinfo=UTC)) == 0
    )


@pytest.mark.parametrize(
    ("lit", "hint", "value"),
    [
        (Literal("42", XSD + "integer"), None, 42),
        (Literal("4.20", XSD + "decimal"), None, Decimal("4.20")),
        (Literal("true", XSD + "boolean"), None, True),
        (Literal("2026-01-01", XSD + "date"), None, date(2026, 1, 1)),
        (Literal("2026-01-01T10:00:00"), XSD + "dateTime", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        (Literal("2023-12-31T06:00Z"), XSD + "dateTime", datetime(2023, 12, 31, 6, tzinfo=UTC)),
        (Literal("P30D"), XSD + "duration", Duration.parse("P30D")),
        (Literal("x"), None, "x"),
        (IRI("https://example.org/a"), XSD + "integer", "https://example.org/a"),
    ],
)
def test_typed_right_operands(lit: Any, hint: str | None, value: Any) -> None:
    assert to_python(lit, hint) == value


@pytest.mark.parametrize(
    "lit",
    [
        Literal("x", XSD + "integer"),
        Literal("x", XSD + "decimal"),
        Literal("maybe", XSD + "boolean"),
        Literal("2026-13-01T00:00:00Z", XSD + "dateTime"),
        Literal("2026-01-01", XSD + "dateTime"),
    ],
)
def test_bad_lexical_forms(lit: Literal) -> None:
    with pytest.raises(ValueError):
        to_python(lit)


def test_compare_and_equals_primitives() -> None:
    assert compare(1, Decimal("1.5")) == -1
    assert equals({"a": 1}, {"a": 1})
    with pytest.raises(IncomparableError):
        compare("a", "b")
