"""Rating, table-driven, every figure computed by hand to the cent.

Each row: plan, usage, the expected line amounts, then net, discount, VAT, gross. Rounding is
half-up per line, then once for the discount (on the net) and once for VAT (on net - discount).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest

from marketplace.errors import UsageError
from marketplace.plans import KINDS, PLAN_TYPES, parse_plan
from marketplace.rating import RATERS, Usage, rate

JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
MAR = datetime(2026, 3, 1, tzinfo=UTC)


def month(**counts: int) -> Usage:
    return Usage(JAN, FEB, **counts)


GRADUATED = {
    "kind": "tiered",
    "mode": "graduated",
    "unit": "request",
    "tiers": [
        {"start": 0, "end": 100, "rate": "0"},
        {"start": 100, "end": 1000, "rate": "0.01"},
        {"start": 1000, "rate": "0.005"},
    ],
}
VOLUME = {
    **GRADUATED,
    "mode": "volume",
    "tiers": [
        {"start": 0, "end": 100, "rate": "0.02"},
        {"start": 100, "end": 1000, "rate": "0.01"},
        {"start": 1000, "rate": "0.005"},
    ],
}
FREEMIUM = {
    "kind": "freemium",
    "unit": "request",
    "free_quota": 1000,
    "rate": "0.003",
    "period": "P1M",
}

# (name, plan, usage, line amounts, net, discount, vat, gross)
TABLE: list[tuple[str, dict[str, Any], Usage, list[str], str, str, str, str]] = [
    ("free", {"kind": "free"}, month(requests=10**6), [], "0.00", "0.00", "0.00", "0.00"),
    ("free in JPY", {"kind": "free", "currency": "JPY"}, month(), [], "0", "0", "0", "0"),
    (
        "one-off",
        {"kind": "one_off", "price": "120"},
        month(),
        ["120.00"],
        "120.00",
        "0.00",
        "0.00",
        "120.00",
    ),
    # 99.99 * 21% = 20.9979 -> 21.00
    (
        "one-off with VAT",
        {"kind": "one_off", "price": "99.99", "vat_rate": "21"},
        month(),
        ["99.99"],
        "99.99",
        "0.00",
        "21.00",
        "120.99",
    ),
    # 49 * 15% = 7.35; 41.65 * 19% = 7.9135 -> 7.91
    (
        "recurring, discount and VAT",
        {
            "kind": "recurring",
            "price": "49.00",
            "period": "P1M",
            "discount": "15",
            "vat_rate": "19",
        },
        month(),
        ["49.00"],
        "49.00",
        "7.35",
        "7.91",
        "49.56",
    ),
    (
        "recurring weekly",
        {"kind": "recurring", "price": "10", "period": "P1W"},
        Usage(JAN, datetime(2026, 1, 8, tzinfo=UTC)),
        ["10.00"],
        "10.00",
        "0.00",
        "0.00",
        "10.00",
    ),
    (
        "recurring yearly in JPY",
        {
            "kind": "recurring",
            "price": "12000",
            "period": "P1Y",
            "currency": "JPY",
            "vat_rate": "10",
        },
        Usage(JAN, datetime(2027, 1, 1, tzinfo=UTC)),
        ["12000"],
        "12000",
        "0",
        "1200",
        "13200",
    ),
    (
        "metered zero usage",
        {"kind": "metered", "unit": "request", "rate": "0.001"},
        month(),
        ["0.00"],
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ),
    # 1234 * 0.001 = 1.234 -> 1.23
    (
        "metered requests",
        {"kind": "metered", "unit": "request", "rate": "0.001"},
        month(requests=1234),
        ["1.23"],
        "1.23",
        "0.00",
        "0.00",
        "1.23",
    ),
    # 5 * 0.001 = 0.005: the half cent rounds up
    (
        "metered half cent up",
        {"kind": "metered", "unit": "request", "rate": "0.001"},
        month(requests=5),
        ["0.01"],
        "0.01",
        "0.00",
        "0.00",
        "0.01",
    ),
    # 4 * 0.001 = 0.004 -> 0.00
    (
        "metered below half cent",
        {"kind": "metered", "unit": "request", "rate": "0.001"},
        month(requests=4),
        ["0.00"],
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ),
    # 25 * 0.001 = 0.025 -> 0.03 (half-even would say 0.02)
    (
        "metered 0.025",
        {"kind": "metered", "unit": "entity", "rate": "0.001"},
        month(entities=25, requests=999),
        ["0.03"],
        "0.03",
        "0.00",
        "0.00",
        "0.03",
    ),
    # 2.5 MB * 0.02 = 0.05
    (
        "metered MB",
        {"kind": "metered", "unit": "MB", "rate": "0.02"},
        month(bytes=2_500_000),
        ["0.05"],
        "0.05",
        "0.00",
        "0.00",
        "0.05",
    ),
    # 1 byte = 0.000001 MB * 5000 = 0.005 -> 0.01
    (
        "metered one byte",
        {"kind": "metered", "unit": "MB", "rate": "5000"},
        month(bytes=1),
        ["0.01"],
        "0.01",
        "0.00",
        "0.00",
        "0.01",
    ),
    ("graduated zero", GRADUATED, month(), ["0.00"], "0.00", "0.00", "0.00", "0.00"),
    (
        "graduated inside first tier",
        GRADUATED,
        month(requests=99),
        ["0.00"],
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ),
    (
        "graduated at first edge",
        GRADUATED,
        month(requests=100),
        ["0.00"],
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ),
    (
        "graduated one past edge",
        GRADUATED,
        month(requests=101),
        ["0.00", "0.01"],
        "0.01",
        "0.00",
        "0.00",
        "0.01",
    ),
    # 900 * 0.01 = 9.00 exactly at the second edge
    (
        "graduated at second edge",
        GRADUATED,
        month(requests=1000),
        ["0.00", "9.00"],
        "9.00",
        "0.00",
        "0.00",
        "9.00",
    ),
    # 900 * 0.01 + 1 * 0.005 = 9.00 + 0.005 -> 0.01
    (
        "graduated half cent in last tier",
        GRADUATED,
        month(requests=1001),
        ["0.00", "9.00", "0.01"],
        "9.01",
        "0.00",
        "0.00",
        "9.01",
    ),
    # 9.00 + 1500 * 0.005 = 7.50; discount 10% of 16.50 = 1.65; VAT 21% of 14.85 = 3.1185 -> 3.12
    (
        "graduated with discount and VAT",
        {**GRADUATED, "discount": "10", "vat_rate": "21"},
        month(requests=2500),
        ["0.00", "9.00", "7.50"],
        "16.50",
        "1.65",
        "3.12",
        "17.97",
    ),
    ("volume zero", VOLUME, month(), ["0.00"], "0.00", "0.00", "0.00", "0.00"),
    # 100 at the first tier's rate: 100 * 0.02
    ("volume at first edge", VOLUME, month(requests=100), ["2.00"], "2.00", "0.00", "0.00", "2.00"),
    # 101 all at 0.01 = 1.01: cheaper than 100, as volume pricing is
    ("volume past edge", VOLUME, month(requests=101), ["1.01"], "1.01", "0.00", "0.00", "1.01"),
    (
        "volume at second edge",
        VOLUME,
        month(requests=1000),
        ["10.00"],
        "10.00",
        "0.00",
        "0.00",
        "10.00",
    ),
    # 1001 * 0.005 = 5.005 -> 5.01
    ("volume half cent", VOLUME, month(requests=1001), ["5.01"], "5.01", "0.00", "0.00", "5.01"),
    ("freemium zero", FREEMIUM, month(), ["0.00", "0.00"], "0.00", "0.00", "0.00", "0.00"),
    (
        "freemium quota exactly used",
        FREEMIUM,
        month(requests=1000),
        ["0.00", "0.00"],
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ),
    # 1 * 0.003 = 0.003 -> 0.00
    (
        "freemium one over",
        FREEMIUM,
        month(requests=1001),
        ["0.00", "0.00"],
        "0.00",
        "0.00",
        "0.00",
        "0.00",
    ),
    # 2 * 0.003 = 0.006 -> 0.01
    (
        "freemium two over",
        FREEMIUM,
        month(requests=1002),
        ["0.00", "0.01"],
        "0.01",
        "0.00",
        "0.00",
        "0.01",
    ),
    # 9000 * 0.003 = 27.00; VAT 20% = 5.40
    (
        "freemium with VAT",
        {**FREEMIUM, "vat_rate": "20"},
        month(requests=10000),
        ["0.00", "27.00"],
        "27.00",
        "0.00",
        "5.40",
        "32.40",
    ),
    # the discount's half cent: 0.05 * 10% = 0.005 -> 0.01; 0.04 VAT 0% -> gross 0.04
    (
        "discount half cent",
        {"kind": "metered", "unit": "request", "rate": "0.01", "discount": "10"},
        month(requests=5),
        ["0.05"],
        "0.05",
        "0.01",
        "0.00",
        "0.04",
    ),
    # VAT's half cent: 0.50 * 1% = 0.005 -> 0.01
    (
        "VAT half cent",
        {"kind": "one_off", "price": "0.50", "vat_rate": "1"},
        month(),
        ["0.50"],
        "0.50",
        "0.00",
        "0.01",
        "0.51",
    ),
    # Bahraini dinar, three decimals: 7 * 0.0015 = 0.0105 -> 0.011
    (
        "three decimals",
        {"kind": "metered", "unit": "request", "rate": "0.0015", "currency": "BHD"},
        month(requests=7),
        ["0.011"],
        "0.011",
        "0.000",
        "0.000",
        "0.011",
    ),
]


@pytest.mark.parametrize(
    ("name", "plan", "usage", "lines", "net", "discount", "vat", "gross"),
    TABLE,
    ids=[row[0] for row in TABLE],
)
def test_rating_to_the_cent(
    name: str,
    plan: dict[str, Any],
    usage: Usage,
    lines: list[str],
    net: str,
    discount: str,
    vat: str,
    gross: str,
) -> None:
    charge = rate(parse_plan({"id": "p", **plan}), usage)
    # str() compares the exponent as well: 1.2 is not the 1.20 an invoice line shows.
    assert [str(line.amount) for line in charge.lines] == lines
    assert (str(charge.net), str(charge.discount), str(charge.vat), str(charge.gross)) == (
        net,
        discount,
        vat,
        gross,
    )
    assert charge.gross == charge.net - charge.discount + charge.vat


def test_every_model_has_a_rater_and_a_row() -> None:
    kinds = {parse_plan({"id": "p", **row[1]}).kind for row in TABLE}
    assert kinds == {t.model_fields["kind"].default for t in PLAN_TYPES} == set(KINDS)
    assert set(RATERS) == set(PLAN_TYPES)


def test_graduated_lines_carry_quantities() -> None:
    charge = rate(parse_plan({"id": "p", **GRADUATED}), month(requests=2500))
    assert [(line.quantity, line.rate) for line in charge.lines] == [
        (Decimal(100), Decimal(0)),
        (Decimal(900), Decimal("0.01")),
        (Decimal(1500), Decimal("0.005")),
    ]


@pytest.mark.parametrize(
    ("plan", "usage"),
    [
        ({"kind": "recurring", "price": "1", "period": "P1M"}, Usage(JAN, MAR)),
        (FREEMIUM, Usage(JAN, datetime(2026, 1, 31, tzinfo=UTC))),
        (GRADUATED, Usage(JAN, JAN)),
        ({"kind": "metered", "unit": "MB", "rate": "1", "period": "P1D"}, month()),
    ],
)
def test_periodic_plans_rate_exactly_one_period(plan: dict[str, Any], usage: Usage) -> None:
    with pytest.raises(UsageError) as e:
        rate(parse_plan({"id": "p", **plan}), usage)
    assert e.value.field == "end"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"requests": -1}, "requests"),
        ({"entities": 1.5}, "entities"),
        ({"bytes": True}, "bytes"),
        ({"requests": 10**15}, "requests"),
        ({"start": datetime(2026, 1, 1)}, "start"),
        ({"end": datetime(2025, 12, 1, tzinfo=UTC)}, "end"),
    ],
)
def test_bad_usage_refused(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"start": JAN, "end": FEB, **kwargs}
    with pytest.raises(UsageError) as e:
        Usage(**args)
    assert e.value.field == field


def test_rate_refuses_what_is_not_a_plan() -> None:
    with pytest.raises(UsageError):
        rate({"kind": "free"}, month())


def test_largest_inputs_stay_exact() -> None:
    plan = parse_plan(
        {
            "id": "p",
            "kind": "metered",
            "unit": "request",
            "rate": "987654321098.7654321987",
            "vat_rate": "99.9999",
        }
    )
    charge = rate(plan, month(requests=10**15 - 7))
    # 28 digits (Python's default) would round these sums; the rating never does.
    with localcontext(prec=60):
        assert charge.gross == charge.net - charge.discount + charge.vat
        assert charge.net == round(Decimal("987654321098.7654321987") * (10**15 - 7), 2)
        vat = (charge.net * Decimal("0.999999")).quantize(Decimal("0.01"), ROUND_HALF_UP)
        assert charge.vat == vat


def test_a_month_is_a_calendar_month_in_the_start_s_own_zone() -> None:
    plan = parse_plan({"id": "p", "kind": "recurring", "price": "1", "period": "P1M"})
    utc = datetime(2026, 1, 30, 23, 30, tzinfo=UTC)
    cet = utc.astimezone(timezone(timedelta(hours=1)))  # the same instant: 31 Jan 00:30 CET
    assert rate(plan, Usage(utc, datetime(2026, 2, 28, 23, 30, tzinfo=UTC))).gross == 1
    # 31 Jan + P1M is 28 Feb 00:30 CET, which is 27 Feb 23:30 UTC, not 28 Feb
    cet_end = datetime(2026, 2, 28, 0, 30, tzinfo=cet.tzinfo)
    assert rate(plan, Usage(cet, cet_end)).gross == 1
    with pytest.raises(UsageError):
        rate(plan, Usage(cet, datetime(2026, 2, 28, 23, 30, tzinfo=UTC)))
