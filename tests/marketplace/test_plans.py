"""Price plans: each model accepted, and every kind of bad input refused with a typed error."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from marketplace.errors import MoneyError, PlanError, TierError, UnknownCurrencyError
from marketplace.plans import (
    FreemiumPlan,
    RecurringPlan,
    TieredPlan,
    parse_plan,
    plan_to_dict,
)

GOOD: list[dict[str, Any]] = [
    {"id": "free", "kind": "free"},
    {"id": "once", "kind": "one_off", "price": "120.00", "vat_rate": "21"},
    {"id": "monthly", "kind": "recurring", "price": "49.00", "period": "P1M"},
    {"id": "yearly", "kind": "recurring", "price": 490, "period": "P1Y", "discount": "15"},
    {"id": "per-mb", "kind": "metered", "unit": "MB", "rate": "0.0125"},
    {"id": "per-call", "kind": "metered", "unit": "request", "rate": "0.001", "period": "P1D"},
    {
        "id": "grad",
        "kind": "tiered",
        "mode": "graduated",
        "unit": "entity",
        "tiers": [
            {"start": 0, "end": 1000, "rate": "0"},
            {"start": 1000, "end": 10000, "rate": "0.002"},
            {"start": 10000, "rate": "0.001"},
        ],
    },
    {
        "id": "fm",
        "kind": "freemium",
        "unit": "request",
        "free_quota": 1000,
        "rate": "0.01",
        "period": "P1M",
        "currency": "http://dbpedia.org/resource/Pound_sterling",
    },
]


@pytest.mark.parametrize("data", GOOD, ids=lambda d: d["id"])
def test_good_plans_round_trip(data: dict[str, Any]) -> None:
    plan = parse_plan(data)
    assert plan.kind == data["kind"]
    assert parse_plan(plan_to_dict(plan)) == plan


def test_currency_iri_normalised_to_code() -> None:
    plan = parse_plan(GOOD[-1])
    assert isinstance(plan, FreemiumPlan)
    assert plan.currency == "GBP"
    assert plan.free_quota == Decimal(1000)


def test_plans_are_frozen() -> None:
    plan = parse_plan(GOOD[2])
    assert isinstance(plan, RecurringPlan)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen error
        plan.price = Decimal(1)
    assert plan.price == Decimal("49.00")


def _tiers(*rows: tuple[Any, Any, str]) -> dict[str, Any]:
    return {
        "id": "t",
        "kind": "tiered",
        "mode": "volume",
        "unit": "request",
        "tiers": [{"start": s, "end": e, "rate": r} for s, e, r in rows],
    }


BAD: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("float price", {"id": "p", "kind": "one_off", "price": 9.99}, MoneyError, "price"),
    ("negative price", {"id": "p", "kind": "one_off", "price": "-5"}, MoneyError, "price"),
    ("exponent", {"id": "p", "kind": "one_off", "price": "1E2"}, MoneyError, "price"),
    ("nan", {"id": "p", "kind": "one_off", "price": "NaN"}, MoneyError, "price"),
    ("zero one-off", {"id": "p", "kind": "one_off", "price": "0"}, PlanError, "price"),
    (
        "unknown currency",
        {"id": "p", "kind": "free", "currency": "ABC"},
        UnknownCurrencyError,
        "currency",
    ),
    (
        "bad period",
        {"id": "p", "kind": "recurring", "price": "1", "period": "P2M"},
        PlanError,
        "period",
    ),
    ("missing period", {"id": "p", "kind": "recurring", "price": "1"}, PlanError, "period"),
    ("bad unit", {"id": "p", "kind": "metered", "unit": "GB", "rate": "1"}, PlanError, "unit"),
    ("zero rate", {"id": "p", "kind": "metered", "unit": "MB", "rate": "0"}, PlanError, "rate"),
    ("unknown kind", {"id": "p", "kind": "auction"}, PlanError, "kind"),
    ("no kind", {"id": "p"}, PlanError, "kind"),
    ("extra field", {"id": "p", "kind": "free", "price": "1"}, PlanError, "price"),
    ("bad id", {"id": "a b", "kind": "free"}, PlanError, "id"),
    (
        "vat over 100",
        {"id": "p", "kind": "one_off", "price": "1", "vat_rate": "120"},
        PlanError,
        "vat_rate",
    ),
    (
        "discount 100",
        {"id": "p", "kind": "one_off", "price": "1", "discount": "100"},
        PlanError,
        "discount",
    ),
    ("taxed free", {"id": "p", "kind": "free", "vat_rate": "21"}, PlanError, "vat_rate"),
    ("discounted free", {"id": "p", "kind": "free", "discount": "5"}, PlanError, "discount"),
    (
        "quota zero",
        {
            "id": "p",
            "kind": "freemium",
            "unit": "request",
            "free_quota": 0,
            "rate": "0.1",
            "period": "P1M",
        },
        PlanError,
        "free_quota",
    ),
    (
        "fractional quota",
        {
            "id": "p",
            "kind": "freemium",
            "unit": "entity",
            "free_quota": "2.5",
            "rate": "0.1",
            "period": "P1M",
        },
        PlanError,
        "free_quota",
    ),
    ("tiers gap", _tiers((0, 10, "1"), (11, None, "0.5")), TierError, "tiers.1.start"),
    ("tiers overlap", _tiers((0, 10, "1"), (5, None, "0.5")), TierError, "tiers.1.start"),
    ("tiers not from 0", _tiers((1, 10, "1"), (10, None, "0.5")), TierError, "tiers.0.start"),
    ("tiers closed", _tiers((0, 10, "1"), (10, 20, "0.5")), TierError, "tiers.1.end"),
    ("open tier not last", _tiers((0, None, "1"), (10, None, "0.5")), TierError, "tiers.0.end"),
    ("empty tier", _tiers((0, 0, "1"), (0, None, "0.5")), TierError, "tiers.0.end"),
    ("all-zero tiers", _tiers((0, 10, "0"), (10, None, "0")), PlanError, "tiers"),
    ("negative tier rate", _tiers((0, 10, "-1"), (10, None, "0.5")), MoneyError, "tiers.0.rate"),
    ("no tiers", _tiers(), PlanError, "tiers"),
    ("not an object", ["free"], PlanError, ""),  # type: ignore[list-item]
]


@pytest.mark.parametrize(("why", "data", "error", "field"), BAD, ids=[b[0] for b in BAD])
def test_bad_plans_refused(why: str, data: Any, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as e:
        parse_plan(data)
    assert getattr(e.value, "field", None) == field, str(e.value)


def test_tier_table_kept_in_order() -> None:
    plan = parse_plan(GOOD[6])
    assert isinstance(plan, TieredPlan)
    assert [t.start for t in plan.tiers] == [0, 1000, 10000]
    assert plan.tiers[-1].end is None
