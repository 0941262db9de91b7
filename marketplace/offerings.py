"""Product offerings: one dataset, one or more price plans, each with its ODRL terms.

An offering walks ``draft → published → retired`` (:data:`TRANSITIONS`, the only moves there
are). It is versioned: a draft is edited in place, but editing a *published* offering makes the
next version, because agreements already made keep pointing at the version they were made under.
:class:`OfferingHistory` keeps every version of one offering and retires the superseded one. The
model is pure and storage-agnostic; the connector stores it.

The terms are a compact DSP/ODRL fragment (``permission``, ``prohibition``, ``obligation``,
``profile``) without ``target`` or parties — those come from the offering — and without a price:
the price is the plan's, written into the offer by :mod:`marketplace.views.dsp`, never twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from policies import PolicyError, parse_policy
from policies.vocab import OPERATORS

from .errors import LifecycleError, MarketplaceError, OfferingError
from .numbers import dumps
from .plans import PricePlan, from_validation_error

ODRL: Final = "http://www.w3.org/ns/odrl/2/"
PRICING_NS: Final = "https://w3id.org/agora/pricing#"
TERM_KEYS: Final = ("permission", "prohibition", "obligation", "profile")
MAX_TERMS_BYTES: Final = 64 * 1024
PRICE_WORDS: Final = frozenset({"compensate", ODRL + "compensate", "odrl:compensate"})
PRICE_OPERANDS: Final = frozenset({"payAmount", ODRL + "payAmount", "odrl:payAmount"})


class Lifecycle(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


TRANSITIONS: Final[dict[Lifecycle, frozenset[Lifecycle]]] = {
    Lifecycle.DRAFT: frozenset({Lifecycle.PUBLISHED}),
    Lifecycle.PUBLISHED: frozenset({Lifecycle.RETIRED}),
    Lifecycle.RETIRED: frozenset(),
}
EDITABLE: Final = frozenset(
    {"name", "description", "category", "dataset_id", "plans", "valid_from", "valid_to"}
)


def _join(path: str, key: str | int) -> str:
    return f"{path}.{key}" if path else str(key)


MAX_DEPTH: Final = 32  # ODRL terms nest a few levels; deeper is an attack on the recursion


def _walk_terms(node: Any, path: str, depth: int = 0) -> None:
    """Refuse a price written in the terms (it would contradict or duplicate the plan's) and an
    operator ODRL does not define (the policy parser leaves operators to evaluation time)."""
    if depth > MAX_DEPTH:
        raise OfferingError(
            "terms nest too deep", field=path, expected=f"<= {MAX_DEPTH} levels", found=depth
        )
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "operator":
                op = value.get("@id") if isinstance(value, dict) else value
                bare = op[len(ODRL) :] if isinstance(op, str) and op.startswith(ODRL) else op
                if bare not in OPERATORS:
                    raise OfferingError(
                        "unknown ODRL operator",
                        field=_join(path, key),
                        expected=" | ".join(OPERATORS),
                        found=op,
                    )
            if key in ("action", "leftOperand"):
                word = value.get("@id") if isinstance(value, dict) else value
                if isinstance(word, str) and (
                    word in PRICE_WORDS or word in PRICE_OPERANDS or word.startswith(PRICING_NS)
                ):
                    raise OfferingError(
                        "the price comes from the plan, not from the terms",
                        field=_join(path, key),
                        expected="no compensate, payAmount or pricing term",
                        found=word,
                    )
            _walk_terms(value, _join(path, key), depth + 1)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _walk_terms(item, _join(path, i), depth + 1)


def _terms(value: Any) -> str:
    """Validate ODRL terms; keep them as canonical JSON text so a frozen offering stays frozen.

    Text is accepted too (an edit passes the stored terms on) but is parsed and checked like any
    other input: a string is never trusted to be canonical.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise OfferingError(
                "terms are not JSON", expected="an ODRL object", found=value[:80]
            ) from None
    if not isinstance(value, dict):
        raise OfferingError("terms are an ODRL object", expected="an object", found=value)
    extra = sorted(set(value) - set(TERM_KEYS))
    if extra:
        raise OfferingError(
            "terms hold only rules and profiles; target and parties come from the offering",
            field=extra[0],
            expected=" | ".join(TERM_KEYS),
            found=extra[0],
        )
    if "permission" not in value and "prohibition" not in value:
        raise OfferingError(
            "a DSP offer needs a permission or a prohibition",
            expected="permission or prohibition",
            found=sorted(value),
        )
    _walk_terms(value, "")
    try:
        text = dumps(value, floats=True, sort_keys=True)
    except MarketplaceError as exc:
        raise OfferingError("terms are not JSON", expected="JSON data", found=exc.found) from None
    if len(text.encode()) > MAX_TERMS_BYTES:
        raise OfferingError(
            "terms too large", expected=f"<= {MAX_TERMS_BYTES} bytes", found=len(text)
        )
    probe = {
        "@context": "https://w3id.org/dspace/2025/1/context.jsonld",
        "@id": "urn:agora:terms-check",
        "@type": "Offer",
        **value,
    }
    try:
        parse_policy(probe)
    except PolicyError as exc:
        raise OfferingError(
            "terms are not valid ODRL", expected="a valid DSP 2025-1 policy", found=str(exc)
        ) from None
    return text


Terms = Annotated[str, BeforeValidator(_terms)]

#: a plan's billing period and the usage-counter window (``policies.usage``) of the same length
PERIOD_WINDOWS: Final = {"P1D": "perDay", "P1W": "perWeek", "P1M": "perMonth", "P1Y": "perYear"}


def _count_quotas(terms: dict[str, Any]) -> list[tuple[int, str | None]]:
    """(limit, window) of each ``count lteq|lt n`` constraint directly on a permission."""
    found: list[tuple[int, str | None]] = []
    for perm in terms.get("permission") or []:
        for c in (perm.get("constraint") or []) if isinstance(perm, dict) else []:
            if not isinstance(c, dict) or c.get("leftOperand") not in ("count", ODRL + "count"):
                continue
            op, right = c.get("operator"), c.get("rightOperand")
            raw = right.get("@value") if isinstance(right, dict) else right
            try:
                limit = int(str(raw))
            except ValueError:
                continue
            if op in ("lt", ODRL + "lt"):
                limit -= 1
            elif op not in ("lteq", ODRL + "lteq"):
                continue
            unit = c.get("odrl:unit") or c.get("unit")
            iri = unit.get("@id") if isinstance(unit, dict) else unit
            window = iri.rsplit("#", 1)[-1] if isinstance(iri, str) else None
            found.append((limit, window))
    return found


def check_consistent(plan: Any, terms: dict[str, Any]) -> None:
    """Refuse a plan its terms contradict: a priced plan whose terms permit nothing (it would
    sell nothing), and a freemium plan per request whose request quota never lets the free quota
    run out (its rate could never apply)."""
    if plan.kind != "free" and not terms.get("permission"):
        raise OfferingError(
            "a priced plan sells a permission; these terms permit nothing",
            field="terms.permission",
            expected="at least one permission",
            found=None,
        )
    if plan.kind == "freemium" and plan.unit == "request":
        period = PERIOD_WINDOWS.get(plan.period)
        for limit, window in _count_quotas(terms):
            if (window is None or window == period) and limit <= plan.free_quota:
                raise OfferingError(
                    "the terms' request quota never exceeds the free quota: the rate could "
                    "never apply (make it a free plan, or raise the quota)",
                    field="terms.permission",
                    expected=f"a count quota above the free quota {plan.free_quota}",
                    found=limit,
                )


class PlanOffer(BaseModel):
    """One way to buy the dataset: a price plan and the ODRL terms that go with it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan: PricePlan
    terms: Terms

    @model_validator(mode="after")
    def _consistent(self) -> PlanOffer:
        check_consistent(self.plan, json.loads(self.terms))
        return self

    def policy(self) -> dict[str, Any]:
        """A fresh copy of the terms (the stored text cannot be changed through it)."""
        out: dict[str, Any] = json.loads(self.terms)
        return out


class Offering(BaseModel):
    """One version of a product offering."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    version: int = Field(default=1, ge=1, le=1_000_000)
    dataset_id: str = Field(min_length=1, max_length=500)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)
    category: tuple[Annotated[str, Field(min_length=1, max_length=100)], ...] = Field(
        default=(), max_length=20
    )
    lifecycle: Lifecycle = Lifecycle.DRAFT
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    plans: tuple[PlanOffer, ...] = Field(default=(), max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Offering:
        seen: set[str] = set()
        for i, po in enumerate(self.plans):
            if po.plan.id in seen:
                raise OfferingError(
                    "plan ids are unique within an offering",
                    field=f"plans.{i}.plan.id",
                    expected="a new id",
                    found=po.plan.id,
                )
            seen.add(po.plan.id)
        for name in ("valid_from", "valid_to"):
            when = getattr(self, name)
            if when is not None and when.utcoffset() is None:
                raise OfferingError(
                    "a validity bound is timezone-aware",
                    field=name,
                    expected="an offset",
                    found=when.isoformat(),
                )
        if self.valid_from and self.valid_to and self.valid_to <= self.valid_from:
            raise OfferingError(
                "validity ends after it starts",
                field="valid_to",
                expected=f"> {self.valid_from.isoformat()}",
                found=self.valid_to.isoformat(),
            )
        if self.lifecycle is not Lifecycle.DRAFT and not self.plans:
            raise OfferingError(
                "a published offering has at least one plan",
                field="plans",
                expected=">= 1",
                found=0,
            )
        return self

    def plan(self, plan_id: str) -> PlanOffer:
        for po in self.plans:
            if po.plan.id == plan_id:
                return po
        raise OfferingError(
            "no such plan",
            field="plan",
            expected=" | ".join(p.plan.id for p in self.plans),
            found=plan_id,
        )

    def transition(self, to: Lifecycle | str) -> Offering:
        """This version moved to lifecycle ``to``, if :data:`TRANSITIONS` allows it."""
        try:
            target = Lifecycle(to)
        except ValueError:
            raise LifecycleError(
                "unknown lifecycle status",
                field="lifecycle",
                expected=" | ".join(Lifecycle),
                found=to,
            ) from None
        if target not in TRANSITIONS[self.lifecycle]:
            allowed = " | ".join(sorted(TRANSITIONS[self.lifecycle])) or "nothing (final)"
            raise LifecycleError(
                f"a {self.lifecycle} offering cannot become {target}",
                field="lifecycle",
                expected=allowed,
                found=str(target),
            )
        if target is Lifecycle.PUBLISHED and not self.plans:
            raise LifecycleError(
                "an offering without plans cannot be published",
                field="plans",
                expected=">= 1 plan",
                found=0,
            )
        return self.model_copy(update={"lifecycle": target})

    def edit(self, **changes: Any) -> Offering:
        """The offering with ``changes``: the same version while a draft, the next version once
        published (the caller keeps the old one — see :class:`OfferingHistory`)."""
        unknown = sorted(set(changes) - EDITABLE)
        if unknown:
            raise LifecycleError(
                "not an editable field (lifecycle moves through transition())",
                field=unknown[0],
                expected=" | ".join(sorted(EDITABLE)),
                found=unknown[0],
            )
        if self.lifecycle is Lifecycle.RETIRED:
            raise LifecycleError(
                "a retired offering cannot be edited",
                field="lifecycle",
                expected="draft | published",
                found="retired",
            )
        data = self.model_dump(mode="python")
        data["plans"] = [{"plan": p.plan, "terms": p.terms} for p in self.plans]
        data.update(changes)
        if self.lifecycle is Lifecycle.PUBLISHED:
            data["version"] = self.version + 1
        edited = parse_offering(data)
        if edited.model_dump(exclude={"version"}) == self.model_dump(exclude={"version"}):
            return self  # nothing changed: no new version
        return edited


_ADAPTER: Final[TypeAdapter[Offering]] = TypeAdapter(Offering)


def parse_offering(data: Any) -> Offering:
    """An offering from a mapping (JSON input), or one typed error naming the bad field."""
    if isinstance(data, Offering):
        return data
    if not isinstance(data, dict):
        raise OfferingError(
            "an offering is an object", expected="an object", found=type(data).__name__
        )
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        err = from_validation_error(exc, None, OfferingError)
        if not isinstance(err, MarketplaceError):  # pragma: no cover - always one
            raise
        # plans.N.plan.<kind>.field -> plans.N.plan.field: the kind tag is not a field
        parts = err.field.split(".")
        if (
            len(parts) > 3
            and parts[0] == "plans"
            and parts[2] == "plan"
            and parts[3] in {"free", "one_off", "recurring", "metered", "tiered", "freemium"}
        ):
            del parts[3]
            err.field = ""
            err.at(".".join(parts))
        raise err from None


def offering_to_dict(offering: Offering) -> dict[str, Any]:
    """JSON-ready data that :func:`parse_offering` reads back (terms as objects)."""
    out: dict[str, Any] = offering.model_dump(mode="json")
    out["plans"] = [
        {"plan": p.plan.model_dump(mode="json"), "terms": p.policy()} for p in offering.plans
    ]
    return out


@dataclass(frozen=True, slots=True)
class OfferingHistory:
    """Every version of one offering, oldest first; the last is the current one.

    Editing a published current version appends the next version (published) and retires the
    superseded one, so it takes no new agreements while the agreements made under it still find
    it with :meth:`at`.
    """

    versions: tuple[Offering, ...]

    @classmethod
    def start(cls, offering: Offering) -> OfferingHistory:
        if offering.version != 1 or offering.lifecycle is not Lifecycle.DRAFT:
            raise LifecycleError(
                "an offering starts as version 1, a draft",
                field="version",
                expected="1, draft",
                found=f"{offering.version}, {offering.lifecycle}",
            )
        return cls((offering,))

    @property
    def current(self) -> Offering:
        return self.versions[-1]

    def at(self, version: int) -> Offering:
        for o in self.versions:
            if o.version == version:
                return o
        raise OfferingError(
            "no such version", field="version", expected=f"1..{self.current.version}", found=version
        )

    def edit(self, **changes: Any) -> OfferingHistory:
        current = self.current
        edited = current.edit(**changes)
        if edited is current:
            return self
        if edited.version == current.version:
            return OfferingHistory((*self.versions[:-1], edited))
        retired = current.transition(Lifecycle.RETIRED)
        return OfferingHistory((*self.versions[:-1], retired, edited))

    def transition(self, to: Lifecycle | str) -> OfferingHistory:
        return OfferingHistory((*self.versions[:-1], self.current.transition(to)))
