"""Rating: what a plan charges for one period of usage, to the cent.

One function per price model (:data:`RATERS`), and :func:`rate` to pick it. Each returns a
:class:`Charge`: its lines (each rounded half-up to the currency's minor unit, as an EN 16931
invoice line is), then the discount on the net, then the VAT on what remains, each rounded once.
``gross = net - discount + vat`` holds exactly. Periodic plans (recurring, metered, tiered,
freemium) rate exactly one billing period: the usage's ``end`` is its ``start`` plus the plan's
period, so a quota or a tier table can never be stretched over two months.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

from policies.durations import Duration

from .errors import UsageError
from .money import EXACT, Currency, round_money
from .plans import (
    MAX_QUANTITY,
    FreemiumPlan,
    FreePlan,
    MeteredPlan,
    OneOffPlan,
    RecurringPlan,
    TieredPlan,
)

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_PERIODS: Final = {p: Duration.parse(p) for p in ("P1D", "P1W", "P1M", "P1Y")}
MAX_COUNT: Final = int(MAX_QUANTITY)
MAX_BYTES: Final = MAX_COUNT * 10**6


def _count(value: Any, field: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError("a usage count is an integer", field=field, expected="an int", found=value)
    if value < 0 or value >= limit:
        raise UsageError(
            "usage count out of range", field=field, expected=f"0..{limit - 1}", found=value
        )
    return value


@dataclass(frozen=True, slots=True)
class Usage:
    """What was used in ``[start, end)``: requests, entities returned, bytes returned."""

    start: datetime
    end: datetime
    requests: int = 0
    entities: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            when = getattr(self, name)
            if not isinstance(when, datetime) or when.utcoffset() is None:
                raise UsageError(
                    "a period bound is a timezone-aware datetime",
                    field=name,
                    expected="an aware datetime",
                    found=when,
                )
        if self.end < self.start:
            raise UsageError(
                "a period ends after it starts",
                field="end",
                expected=f">= {self.start}",
                found=self.end,
            )
        _count(self.requests, "requests", MAX_COUNT)
        _count(self.entities, "entities", MAX_COUNT)
        _count(self.bytes, "bytes", MAX_BYTES)

    def quantity(self, unit: str) -> Decimal:
        """The usage in a plan's unit; MB are SI megabytes (10^6 bytes), kept exact."""
        if unit == "request":
            return Decimal(self.requests)
        if unit == "entity":
            return Decimal(self.entities)
        return Decimal(self.bytes).scaleb(-6, EXACT)


class ChargeLine(NamedTuple):
    """``quantity`` times ``rate`` = ``amount`` (rounded); ``unit`` names what was counted.

    Charges and their lines are named tuples rather than frozen dataclasses: as immutable, and
    built in a fifth of the time (a frozen dataclass sets each field through
    ``object.__setattr__``), which is most of what rating a tiered plan costs."""

    label: str
    quantity: Decimal
    unit: str
    rate: Decimal
    amount: Decimal


class Charge(NamedTuple):
    """A rated period: lines, then net → discount → VAT → gross, all in ``currency``."""

    plan_id: str
    kind: str
    currency: str
    start: datetime
    end: datetime
    lines: tuple[ChargeLine, ...]
    net: Decimal
    discount: Decimal
    vat: Decimal
    gross: Decimal


def _line(label: str, quantity: Decimal, unit: str, rate: Decimal, cur: Currency) -> ChargeLine:
    return ChargeLine(label, quantity, unit, rate, round_money(EXACT.multiply(quantity, rate), cur))


#: (period, start, zone) -> the period's end. Keyed by the instant *and* its zone: equal instants
#: in two zones end their calendar month at different instants (31 Jan 00:30+01:00 is 30 Jan in
#: UTC). Bills start on few distinct instants, so this is nearly always a hit.
_PERIOD_ENDS: dict[tuple[str, datetime, Any], datetime] = {}
_PERIOD_ENDS_MAX: Final = 4096


def _one_period(plan: Any, usage: Usage) -> None:
    start = usage.start
    key = (plan.period, start, start.tzinfo)
    expected = _PERIOD_ENDS.get(key)
    if expected is None:
        if len(_PERIOD_ENDS) >= _PERIOD_ENDS_MAX:
            _PERIOD_ENDS.clear()
        expected = _PERIOD_ENDS[key] = _PERIODS[plan.period].add_to(start)
    if usage.end != expected:
        raise UsageError(
            f"a {plan.kind} plan is rated one {plan.period} period at a time",
            field="end",
            expected=expected.isoformat(),
            found=usage.end.isoformat(),
        )


#: "tier 1", "tier 2", … made once
_TIER_LABELS: Final = tuple(f"tier {i + 1}" for i in range(32))


def _tier_label(i: int) -> str:
    return _TIER_LABELS[i] if i < len(_TIER_LABELS) else f"tier {i + 1}"


def _total(plan: Any, usage: Usage, cur: Currency, lines: tuple[ChargeLine, ...]) -> Charge:
    net = _ZERO
    for line in lines:
        net = EXACT.add(net, line.amount)
    net = round_money(net, cur)
    if plan.discount:
        discount = round_money(EXACT.multiply(net, plan.discount).scaleb(-2, EXACT), cur)
    else:  # the common case: no multiply, the same rounded zero
        discount = round_money(_ZERO, cur)
    taxable = EXACT.subtract(net, discount)
    vat = round_money(EXACT.multiply(taxable, plan.vat_rate).scaleb(-2, EXACT), cur)
    return Charge(
        plan.id,
        plan.kind,
        cur.code,
        usage.start,
        usage.end,
        lines,
        net,
        discount,
        vat,
        EXACT.add(taxable, vat),
    )


def rate_free(plan: FreePlan, usage: Usage) -> Charge:
    return _total(plan, usage, plan.money, ())


def rate_one_off(plan: OneOffPlan, usage: Usage) -> Charge:
    cur = plan.money
    return _total(plan, usage, cur, (_line("one-off", _ONE, "item", plan.price, cur),))


def rate_recurring(plan: RecurringPlan, usage: Usage) -> Charge:
    _one_period(plan, usage)
    cur = plan.money
    return _total(plan, usage, cur, (_line(plan.period, _ONE, "period", plan.price, cur),))


def rate_metered(plan: MeteredPlan, usage: Usage) -> Charge:
    _one_period(plan, usage)
    cur = plan.money
    q = usage.quantity(plan.unit)
    return _total(plan, usage, cur, (_line("metered", q, plan.unit, plan.rate, cur),))


def rate_tiered(plan: TieredPlan, usage: Usage) -> Charge:
    _one_period(plan, usage)
    cur = plan.money
    q = usage.quantity(plan.unit)
    tiers = plan.tiers
    lines: list[ChargeLine] = []
    if plan.mode == "volume":
        for i, tier in enumerate(tiers):
            if tier.end is None or q <= tier.end:
                lines.append(_line(_tier_label(i), q, plan.unit, tier.rate, cur))
                break
    else:
        for i, tier in enumerate(tiers):
            if q <= tier.start and i > 0:
                break
            top = q if tier.end is None or q < tier.end else tier.end
            units = EXACT.subtract(top, tier.start) if q > tier.start else _ZERO
            lines.append(_line(_tier_label(i), units, plan.unit, tier.rate, cur))
    return _total(plan, usage, cur, tuple(lines))


def rate_freemium(plan: FreemiumPlan, usage: Usage) -> Charge:
    _one_period(plan, usage)
    cur = plan.money
    q = usage.quantity(plan.unit)
    quota = plan.free_quota
    free = q if q < quota else quota
    over = EXACT.subtract(q, free)
    lines = (
        _line("free quota", free, plan.unit, _ZERO, cur),
        _line("above quota", over, plan.unit, plan.rate, cur),
    )
    return _total(plan, usage, cur, lines)


RATERS: Final[dict[type, Callable[[Any, Usage], Charge]]] = {
    FreePlan: rate_free,
    OneOffPlan: rate_one_off,
    RecurringPlan: rate_recurring,
    MeteredPlan: rate_metered,
    TieredPlan: rate_tiered,
    FreemiumPlan: rate_freemium,
}


def rate(plan: Any, usage: Usage) -> Charge:
    """The charge of ``plan`` for ``usage`` (dispatches to the model's own function)."""
    rater = RATERS.get(type(plan))
    if rater is None:
        raise UsageError(
            "not a price plan", expected="a plan of marketplace.plans", found=type(plan).__name__
        )
    return rater(plan, usage)
