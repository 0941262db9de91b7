"""Price plans: the models a dataset can be sold under, validated on construction.

Seven shapes, one per ``kind``: ``free``, ``one_off``, ``recurring`` (P1D/P1W/P1M/P1Y),
``metered`` (per request, per entity returned, per MB), ``tiered`` (graduated or volume, over a
contiguous tier table), ``freemium`` (a free quota per period, then a metered rate). Every priced
plan may carry a percentage ``discount`` and a ``vat_rate`` (percent). Amounts are Decimals (see
:mod:`marketplace.money`); plans are frozen so a published offering's plan cannot drift.

Build plans from untrusted input with :func:`parse_plan`: it raises one typed
:class:`~marketplace.errors.MarketplaceError` naming the field, never a pydantic error.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from .errors import MarketplaceError, PlanError, TierError
from .money import Currency, currency, parse_amount

Period = Literal["P1D", "P1W", "P1M", "P1Y"]
PERIODS: Final[tuple[str, ...]] = ("P1D", "P1W", "P1M", "P1Y")
Unit = Literal["request", "entity", "MB"]
UNITS: Final[tuple[str, ...]] = ("request", "entity", "MB")
KINDS: Final[tuple[str, ...]] = (
    "free",
    "one_off",
    "recurring",
    "metered",
    "tiered",
    "freemium",
)
MAX_QUANTITY: Final = Decimal(10) ** 15
MB_DECIMALS: Final = 6  # 1 MB = 10^6 bytes (SI), so a byte is 0.000001 MB
MAX_TIERS: Final = 100


def _amount(value: Any, info: ValidationInfo) -> Decimal:
    return parse_amount(value, field=info.field_name or "amount")


def _percent(value: Any, info: ValidationInfo) -> Decimal:
    name = info.field_name or "percent"
    p = parse_amount(value, field=name, max_decimals=4)
    if p > 100:
        raise PlanError("a percentage is at most 100", field=name, expected="0..100", found=value)
    return p


def _quantity(value: Any, info: ValidationInfo) -> Decimal:
    name = info.field_name or "quantity"
    q = parse_amount(value, field=name, max_decimals=MB_DECIMALS)
    if q >= MAX_QUANTITY:
        raise PlanError(
            "quantity out of range", field=name, expected=f"< {MAX_QUANTITY}", found=value
        )
    return q


def _currency_code(value: Any) -> str:
    return currency(value).code


Amount = Annotated[Decimal, BeforeValidator(_amount)]
Percent = Annotated[Decimal, BeforeValidator(_percent)]
Quantity = Annotated[Decimal, BeforeValidator(_quantity)]
CurrencyCode = Annotated[str, BeforeValidator(_currency_code)]
PlanId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


def _whole(q: Decimal, unit: str, field: str) -> None:
    if unit != "MB" and q != q.to_integral_value():
        raise PlanError(
            f"a count of {unit}s is a whole number",
            field=field,
            expected="an integer",
            found=str(q),
        )


class _Plan(BaseModel):
    """Fields every plan has. ``discount`` and ``vat_rate`` are percentages of the net."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    id: PlanId
    name: str = Field(default="", max_length=200)
    currency: CurrencyCode = "EUR"
    vat_rate: Percent = Decimal(0)
    discount: Percent = Decimal(0)

    @model_validator(mode="before")
    @classmethod
    def _name_defaults_to_id(cls, data: Any) -> Any:
        # One name for the plan in every view (a TMF POP has a name; a plan read back has one).
        if isinstance(data, dict) and not data.get("name") and isinstance(data.get("id"), str):
            data = {**data, "name": data["id"]}
        return data

    @property
    def money(self) -> Currency:
        return currency(self.currency)

    @model_validator(mode="after")
    def _discount_below_100(self) -> _Plan:
        if self.discount >= 100:
            raise PlanError(
                "a 100% discount is the free plan",
                field="discount",
                expected="< 100",
                found=str(self.discount),
            )
        return self


class FreePlan(_Plan):
    kind: Literal["free"] = "free"

    @model_validator(mode="after")
    def _nothing_to_charge(self) -> FreePlan:
        for name in ("vat_rate", "discount"):
            if getattr(self, name) != 0:
                raise PlanError(
                    "a free plan has nothing to tax or discount",
                    field=name,
                    expected="0",
                    found=str(getattr(self, name)),
                )
        return self


def _positive(value: Decimal, field: str, why: str) -> None:
    if value <= 0:
        raise PlanError(why, field=field, expected="> 0", found=str(value))


class OneOffPlan(_Plan):
    """One payment at acquisition."""

    kind: Literal["one_off"] = "one_off"
    price: Amount

    @model_validator(mode="after")
    def _priced(self) -> OneOffPlan:
        _positive(self.price, "price", "a one-off plan of 0 is the free plan")
        return self


class RecurringPlan(_Plan):
    """A fixed price per period, charged once per period."""

    kind: Literal["recurring"] = "recurring"
    price: Amount
    period: Period

    @model_validator(mode="after")
    def _priced(self) -> RecurringPlan:
        _positive(self.price, "price", "a recurring plan of 0 is the free plan")
        return self


class MeteredPlan(_Plan):
    """``rate`` per ``unit`` used in the billing ``period``."""

    kind: Literal["metered"] = "metered"
    unit: Unit
    rate: Amount
    period: Period = "P1M"

    @model_validator(mode="after")
    def _priced(self) -> MeteredPlan:
        _positive(self.rate, "rate", "a metered rate of 0 is the free plan")
        return self


class Tier(BaseModel):
    """Quantities in ``(start, end]`` at ``rate`` per unit; ``end=None`` is open-ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: Quantity
    end: Quantity | None = None
    rate: Amount


class TieredPlan(_Plan):
    """Graduated: each tier's units at its rate. Volume: all units at the rate of the tier the
    total falls in. The table starts at 0, is contiguous, and its last tier is open-ended."""

    kind: Literal["tiered"] = "tiered"
    mode: Literal["graduated", "volume"]
    unit: Unit
    tiers: tuple[Tier, ...] = Field(min_length=1, max_length=MAX_TIERS)
    period: Period = "P1M"

    @model_validator(mode="after")
    def _contiguous(self) -> TieredPlan:
        previous_end: Decimal = Decimal(0)
        last = len(self.tiers) - 1
        for i, tier in enumerate(self.tiers):
            where = f"tiers.{i}"
            _whole(tier.start, self.unit, f"{where}.start")
            if tier.start != previous_end:
                what = "a gap" if tier.start > previous_end else "an overlap"
                first = "the first tier starts at 0" if i == 0 else f"{what} between tiers"
                raise TierError(
                    first, field=f"{where}.start", expected=str(previous_end), found=str(tier.start)
                )
            if tier.end is None:
                if i != last:
                    raise TierError(
                        "only the last tier is open-ended",
                        field=f"{where}.end",
                        expected="an end",
                        found=None,
                    )
                break
            _whole(tier.end, self.unit, f"{where}.end")
            if tier.end <= tier.start:
                raise TierError(
                    "a tier ends after it starts",
                    field=f"{where}.end",
                    expected=f"> {tier.start}",
                    found=str(tier.end),
                )
            previous_end = tier.end
        else:
            raise TierError(
                "the last tier is open-ended, or usage above it would have no price",
                field=f"tiers.{last}.end",
                expected="null",
                found=str(self.tiers[last].end),
            )
        if all(t.rate == 0 for t in self.tiers):
            raise PlanError(
                "a tier table with only zero rates is the free plan",
                field="tiers",
                expected="a rate > 0",
                found="0",
            )
        return self


class FreemiumPlan(_Plan):
    """``free_quota`` units free in each ``period``, then ``rate`` per unit above it."""

    kind: Literal["freemium"] = "freemium"
    unit: Unit
    free_quota: Quantity
    rate: Amount
    period: Period

    @model_validator(mode="after")
    def _consistent(self) -> FreemiumPlan:
        _positive(self.free_quota, "free_quota", "a freemium plan without a quota is metered")
        _whole(self.free_quota, self.unit, "free_quota")
        _positive(self.rate, "rate", "a freemium plan of rate 0 is the free plan")
        return self


PricePlan = Annotated[
    FreePlan | OneOffPlan | RecurringPlan | MeteredPlan | TieredPlan | FreemiumPlan,
    Field(discriminator="kind"),
]
PLAN_TYPES: Final = (FreePlan, OneOffPlan, RecurringPlan, MeteredPlan, TieredPlan, FreemiumPlan)
_ADAPTER: Final[TypeAdapter[Any]] = TypeAdapter(PricePlan)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def from_validation_error(
    exc: ValidationError, kind: str | None, error: type[MarketplaceError]
) -> MarketplaceError:
    """The first problem of a pydantic error as one typed marketplace error."""
    first = exc.errors(include_url=False)[0]
    loc = tuple(first["loc"])
    if kind is not None and loc and loc[0] == kind:
        loc = loc[1:]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, MarketplaceError):
        if cause.field and loc and str(loc[-1]) == cause.field.split(".")[0]:
            loc = loc[:-1]
        return cause.at(_path(loc)) if loc else cause
    kind_of = first["type"]
    if kind_of == "union_tag_invalid" or kind_of == "union_tag_not_found":
        tag = (first.get("ctx") or {}).get("tag", kind)
        return error(
            "unknown price model",
            field=_path((*loc, "kind")),
            expected=" | ".join(KINDS),
            found=tag,
        )
    if kind_of == "extra_forbidden":
        return error(
            "unknown field",
            field=_path(loc),
            expected="a field of this model",
            found=first["input"],
        )
    if kind_of == "missing":
        return error("missing field", field=_path(loc), expected="a value", found=None)
    expected = (first.get("ctx") or {}).get("expected")
    return error(
        first["msg"], field=_path(loc), expected=str(expected or kind_of), found=first.get("input")
    )


def parse_plan(data: Any) -> Any:
    """A price plan from a mapping (JSON input), or :class:`PlanError` naming the bad field."""
    if isinstance(data, PLAN_TYPES):
        return data
    if not isinstance(data, dict):
        raise PlanError(
            "a price plan is an object", expected="an object", found=type(data).__name__
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        kind = data.get("kind") if isinstance(data.get("kind"), str) else None
        raise from_validation_error(exc, kind, PlanError) from None


def plan_to_dict(plan: Any) -> dict[str, Any]:
    """The plan as JSON-ready data (amounts as decimal strings, so nothing becomes a float)."""
    out: dict[str, Any] = plan.model_dump(mode="json")
    return out
