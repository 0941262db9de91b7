"""The TMF620 v4 Product Catalog view: ``productOffering`` and ``productOfferingPrice``.

Written from the same :class:`~marketplace.offerings.Offering` as the DSP view, and read back into
it (:func:`parse_product_offering`, for the write side). Shapes:

* a plan is one productOfferingPrice (POP): ``oneTime`` (one-off, free at 0), ``recurring``
  (``recurringChargePeriodType`` daily/weekly/monthly/yearly, length 1), ``usage`` (metered:
  ``unitOfMeasure {amount: 1, units}``, the rate as ``price``, the billing period as the
  recurring period);
* a tiered or freemium plan is a bundle POP (``isBundle``) whose ``bundledPopRelationship`` lists
  its parts: one usage POP per tier (``@type`` ``AgoraTierPrice`` with ``tierStart``/``tierEnd``)
  or the free quota (``AgoraFreeQuota``, ``unitOfMeasure.amount`` = the quota, price 0) and the
  rate above it;
* a discount is a related POP (``popRelationship``, ``priceType`` ``discount``, ``percentage``);
* VAT is ``tax [{taxCategory: "VAT", taxRate}]`` with the rate as a fraction (21 % → 0.21);
* ``pricingLogicAlgorithm[0].name`` names the Agora price model, so the view reads back exactly;
* the ODRL terms of each plan travel in ``productOfferingTerm`` (``@type`` ``AgoraOdrlTerms``,
  ``odrlPolicy``), linked to the plan's POP.

Extensions follow TMF's polymorphism pattern (``@type`` / ``@baseType`` / ``@schemaLocation``).
Numbers are Decimals: serialise with :func:`marketplace.views.numbers.dumps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from ..errors import MarketplaceError, ViewError
from ..money import EXACT, currency, parse_amount
from ..offerings import Lifecycle, Offering, PlanOffer, parse_offering
from ..plans import (
    FreemiumPlan,
    FreePlan,
    MeteredPlan,
    OneOffPlan,
    RecurringPlan,
    TieredPlan,
    parse_plan,
)
from .dsp import PRICING_PROFILE, amount_text
from .ids import href, pop_id

LIFECYCLE_STATUS: Final = {
    Lifecycle.DRAFT: "In design",
    Lifecycle.PUBLISHED: "Launched",
    Lifecycle.RETIRED: "Retired",
}
_LIFECYCLE_OF: Final = {
    "in study": Lifecycle.DRAFT,
    "in design": Lifecycle.DRAFT,
    "in test": Lifecycle.DRAFT,
    "active": Lifecycle.DRAFT,
    "launched": Lifecycle.PUBLISHED,
    "retired": Lifecycle.RETIRED,
    "obsolete": Lifecycle.RETIRED,
}
PERIOD_TYPES: Final = {"P1D": "daily", "P1W": "weekly", "P1M": "monthly", "P1Y": "yearly"}
_PERIOD_OF: Final = {
    **{v: k for k, v in PERIOD_TYPES.items()},
    "day": "P1D",
    "week": "P1W",
    "month": "P1M",
    "year": "P1Y",
}
ALGORITHMS: Final = {
    "free": "agora:free",
    "one_off": "agora:oneOff",
    "recurring": "agora:recurring",
    "metered": "agora:metered",
    "tiered": "agora:tiered",
    "freemium": "agora:freemium",
}
_KIND_OF: Final = {v: k for k, v in ALGORITHMS.items()}


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _ref(base_url: str | None, resource: str, ident: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ident, "name": name}
    link = href(base_url, resource, ident)
    if link:
        out["href"] = link
    return out


def _valid_for(offering: Offering) -> dict[str, str] | None:
    vf: dict[str, str] = {}
    if offering.valid_from:
        vf["startDateTime"] = _when(offering.valid_from)
    if offering.valid_to:
        vf["endDateTime"] = _when(offering.valid_to)
    return vf or None


def _price(amount: Decimal, code: str) -> dict[str, Any]:
    return {"unit": code, "value": Decimal(amount_text(amount, currency(code)))}


class _Writer:
    """Collects the POPs of one offering (parts before the plan that bundles them)."""

    def __init__(self, offering: Offering, base_url: str | None) -> None:
        self.offering = offering
        self.base_url = base_url
        self.pops: list[dict[str, Any]] = []

    def pop(self, ident: str, name: str, **fields: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"id": ident}
        link = href(self.base_url, "productOfferingPrice", ident)
        if link:
            out["href"] = link
        out["name"] = name
        out["version"] = str(self.offering.version)
        out["lifecycleStatus"] = LIFECYCLE_STATUS[self.offering.lifecycle]
        vf = _valid_for(self.offering)
        if vf:
            out["validFor"] = vf
        out.update({k: v for k, v in fields.items() if v is not None})
        out.setdefault("isBundle", False)
        out.setdefault("@type", "ProductOfferingPrice")
        self.pops.append(out)
        return out

    def ref(self, pop: dict[str, Any]) -> dict[str, Any]:
        return _ref(self.base_url, "productOfferingPrice", pop["id"], pop["name"])

    def plan(self, po: PlanOffer) -> dict[str, Any]:
        plan = po.plan
        o = self.offering
        ident = pop_id(o, plan.id)
        name = plan.name or plan.id
        common: dict[str, Any] = {
            "pricingLogicAlgorithm": [
                {"name": ALGORITHMS[plan.kind], "@type": "PricingLogicAlgorithm"}
            ],
        }
        if plan.vat_rate:
            common["tax"] = [{"taxCategory": "VAT", "taxRate": plan.vat_rate.scaleb(-2, EXACT)}]
        if plan.discount:
            d = self.pop(
                pop_id(o, plan.id, "discount"),
                f"{name}: discount",
                priceType="discount",
                percentage=plan.discount,
            )
            common["popRelationship"] = [{**self.ref(d), "relationshipType": "discount"}]
        period: dict[str, Any] = {}
        if not isinstance(plan, FreePlan | OneOffPlan):
            period = {
                "recurringChargePeriodType": PERIOD_TYPES[plan.period],
                "recurringChargePeriodLength": 1,
            }
        if isinstance(plan, FreePlan | OneOffPlan):
            price = Decimal(0) if isinstance(plan, FreePlan) else plan.price
            return self.pop(
                ident, name, priceType="oneTime", price=_price(price, plan.currency), **common
            )
        if isinstance(plan, RecurringPlan):
            return self.pop(
                ident,
                name,
                priceType="recurring",
                price=_price(plan.price, plan.currency),
                **period,
                **common,
            )
        if isinstance(plan, MeteredPlan):
            return self.pop(
                ident,
                name,
                priceType="usage",
                unitOfMeasure={"amount": 1, "units": plan.unit},
                price=_price(plan.rate, plan.currency),
                **period,
                **common,
            )
        parts: list[dict[str, Any]] = []
        if isinstance(plan, TieredPlan):
            for i, tier in enumerate(plan.tiers):
                parts.append(
                    self.pop(
                        pop_id(o, plan.id, f"tier{i + 1}"),
                        f"{name}: tier {i + 1}",
                        priceType="usage",
                        unitOfMeasure={"amount": 1, "units": plan.unit},
                        price=_price(tier.rate, plan.currency),
                        tierStart=tier.start,
                        tierEnd=tier.end,
                        **{
                            "@type": "AgoraTierPrice",
                            "@baseType": "ProductOfferingPrice",
                            "@schemaLocation": PRICING_PROFILE,
                        },
                    )
                )
            common["pricingLogicAlgorithm"][0]["description"] = plan.mode
        elif isinstance(plan, FreemiumPlan):
            parts.append(
                self.pop(
                    pop_id(o, plan.id, "quota"),
                    f"{name}: free quota",
                    priceType="usage",
                    unitOfMeasure={"amount": plan.free_quota, "units": plan.unit},
                    price=_price(Decimal(0), plan.currency),
                    **period,
                    **{
                        "@type": "AgoraFreeQuota",
                        "@baseType": "ProductOfferingPrice",
                        "@schemaLocation": PRICING_PROFILE,
                    },
                )
            )
            parts.append(
                self.pop(
                    pop_id(o, plan.id, "rate"),
                    f"{name}: above quota",
                    priceType="usage",
                    unitOfMeasure={"amount": 1, "units": plan.unit},
                    price=_price(plan.rate, plan.currency),
                )
            )
        return self.pop(
            ident,
            name,
            priceType="usage",
            isBundle=True,
            bundledPopRelationship=[self.ref(p) for p in parts],
            **period,
            **common,
        )


def product_offering_prices(
    offering: Offering, *, base_url: str | None = None
) -> list[dict[str, Any]]:
    """Every productOfferingPrice of the offering: each plan's POP and the parts it refers to."""
    w = _Writer(offering, base_url)
    for po in offering.plans:
        w.plan(po)
    return w.pops


def product_offering(offering: Offering, *, base_url: str | None = None) -> dict[str, Any]:
    """The TMF620 productOffering of one offering version."""
    o = offering
    out: dict[str, Any] = {"id": o.id}
    link = href(base_url, "productOffering", o.id)
    if link:
        out["href"] = link
    out.update(
        {
            "name": o.name,
            "description": o.description,
            "version": str(o.version),
            "lifecycleStatus": LIFECYCLE_STATUS[o.lifecycle],
            "isBundle": False,
            "isSellable": o.lifecycle is Lifecycle.PUBLISHED,
        }
    )
    vf = _valid_for(o)
    if vf:
        out["validFor"] = vf
    out["category"] = [{"id": c, "name": c} for c in o.category]
    out["productSpecification"] = {
        "id": o.dataset_id,
        "name": o.name,
        "@referredType": "ProductSpecification",
    }
    out["productOfferingPrice"] = [
        _ref(base_url, "productOfferingPrice", pop_id(o, po.plan.id), po.plan.name or po.plan.id)
        for po in o.plans
    ]
    out["productOfferingTerm"] = [
        {
            "name": po.plan.id,
            "description": "ODRL 2.2 terms of this price plan",
            "productOfferingPrice": _ref(
                base_url, "productOfferingPrice", pop_id(o, po.plan.id), po.plan.name or po.plan.id
            ),
            "odrlPolicy": po.policy(),
            "@type": "AgoraOdrlTerms",
            "@baseType": "ProductOfferingTerm",
            "@schemaLocation": PRICING_PROFILE,
        }
        for po in o.plans
    ]
    out["@type"] = "ProductOffering"
    return out


# --- reading TMF620 back into the model -------------------------------------------------------


def _get(doc: Mapping[str, Any], key: str, field: str, kind: type | tuple[type, ...]) -> Any:
    value = doc.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " | ".join(k.__name__ for k in kind)
        raise ViewError(f"{key} is required", field=field, expected=names, found=value)
    return value


def _list(doc: Mapping[str, Any], key: str, field: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        where = f"{field}.{key}" if field else key
        raise ViewError(f"{key} is a list", field=where, expected="a list", found=value)
    return value


def _number(value: Any, field: str) -> Any:
    """A JSON number as an exact amount: Decimal/int as they are, a float by its shortest repr
    (the digits that were written on the wire), a string as a decimal literal."""
    if isinstance(value, float):
        value = repr(value)
        if "e" in value or "E" in value:
            raise ViewError(
                "write amounts without an exponent",
                field=field,
                expected="a plain decimal",
                found=value,
            )
    return parse_amount(value, field=field)


def _money(pop: Mapping[str, Any], field: str) -> tuple[Decimal, str]:
    price = _get(pop, "price", f"{field}.price", dict)
    code = currency(_get(price, "unit", f"{field}.price.unit", str)).code
    return _number(price.get("value"), f"{field}.price.value"), code


def _period(pop: Mapping[str, Any], field: str) -> str:
    kind = _get(pop, "recurringChargePeriodType", f"{field}.recurringChargePeriodType", str)
    period = _PERIOD_OF.get(kind.lower())
    if period is None:
        raise ViewError(
            "unknown charge period",
            field=f"{field}.recurringChargePeriodType",
            expected=" | ".join(PERIOD_TYPES.values()),
            found=kind,
        )
    length = pop.get("recurringChargePeriodLength", 1)
    if length != 1:
        raise ViewError(
            "a charge period of one unit",
            field=f"{field}.recurringChargePeriodLength",
            expected="1",
            found=length,
        )
    return period


def _units(pop: Mapping[str, Any], field: str) -> tuple[str, Any]:
    uom = _get(pop, "unitOfMeasure", f"{field}.unitOfMeasure", dict)
    return str(uom.get("units")), uom.get("amount")


def _parts(pop: Mapping[str, Any], pops: Mapping[str, Any], field: str) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for i, ref in enumerate(
        _get(pop, "bundledPopRelationship", f"{field}.bundledPopRelationship", list)
    ):
        ident = ref.get("id") if isinstance(ref, dict) else None
        part = pops.get(ident) if isinstance(ident, str) else None
        if not isinstance(part, Mapping):
            raise ViewError(
                "bundled price not found",
                field=f"{field}.bundledPopRelationship.{i}",
                expected="a productOfferingPrice id",
                found=ident,
            )
        out.append(part)
    return out


def parse_product_offering_price(
    pop: Mapping[str, Any], pops: Mapping[str, Any], *, field: str = "productOfferingPrice"
) -> dict[str, Any]:
    """Plan data (for :func:`marketplace.plans.parse_plan`) from a plan's POP; ``pops`` maps the
    ids of its parts and related POPs to their documents."""
    ident = _get(pop, "id", f"{field}.id", str)
    data: dict[str, Any] = {"id": ident.rsplit(":", 1)[-1], "name": str(pop.get("name", ""))}
    algorithms = _list(pop, "pricingLogicAlgorithm", field)
    algo = algorithms[0] if isinstance(algorithms, list) and algorithms else {}
    name = algo.get("name") if isinstance(algo, dict) else None
    kind = _KIND_OF.get(name) if isinstance(name, str) else None
    price_type = pop.get("priceType")
    bundle = pop.get("isBundle") is True
    if kind is None:  # a POP written by another tool: infer the plainest reading
        if price_type == "oneTime":
            price = pop.get("price")
            value = price.get("value") if isinstance(price, dict) else None
            kind = "free" if value == 0 and not isinstance(value, bool) else "one_off"
        elif price_type == "recurring":
            kind = "recurring"
        elif price_type == "usage" and not bundle:
            kind = "metered"
        else:
            raise ViewError(
                "price model not recognised",
                field=f"{field}.priceType",
                expected="oneTime | recurring | usage (or an Agora algorithm)",
                found=price_type,
            )
    data["kind"] = kind
    if kind in ("free", "one_off"):
        amount, data["currency"] = _money(pop, field)
        if kind == "one_off":
            data["price"] = amount
        elif amount != 0:
            raise ViewError(
                "a free price is 0", field=f"{field}.price.value", expected="0", found=str(amount)
            )
    elif kind == "recurring":
        data["price"], data["currency"] = _money(pop, field)
        data["period"] = _period(pop, field)
    elif kind == "metered":
        data["rate"], data["currency"] = _money(pop, field)
        data["unit"], per = _units(pop, field)
        if per != 1:
            raise ViewError(
                "a rate is per one unit",
                field=f"{field}.unitOfMeasure.amount",
                expected="1",
                found=per,
            )
        data["period"] = _period(pop, field) if "recurringChargePeriodType" in pop else "P1M"
    elif kind == "tiered":
        data["period"] = _period(pop, field)
        data["mode"] = algo.get("description")
        tiers, code = [], None
        for i, part in enumerate(_parts(pop, pops, field)):
            where = f"{field}.bundledPopRelationship.{i}"
            rate, code = _money(part, where)
            data["unit"], _ = _units(part, where)
            end = part.get("tierEnd")
            tiers.append(
                {
                    "start": _number(part.get("tierStart"), f"{where}.tierStart"),
                    "end": None if end is None else _number(end, f"{where}.tierEnd"),
                    "rate": rate,
                }
            )
        data["tiers"], data["currency"] = tiers, code or "EUR"
    elif kind == "freemium":
        data["period"] = _period(pop, field)
        for i, part in enumerate(_parts(pop, pops, field)):
            where = f"{field}.bundledPopRelationship.{i}"
            amount, data["currency"] = _money(part, where)
            data["unit"], per = _units(part, where)
            if part.get("@type") == "AgoraFreeQuota":
                data["free_quota"] = _number(per, f"{where}.unitOfMeasure.amount")
            else:
                data["rate"] = amount
    for tax in _list(pop, "tax", field):
        if isinstance(tax, dict) and tax.get("taxCategory") == "VAT":
            data["vat_rate"] = _number(tax.get("taxRate"), f"{field}.tax.taxRate").scaleb(2, EXACT)
    for rel in _list(pop, "popRelationship", field):
        rel_id = rel.get("id") if isinstance(rel, dict) else None
        related = pops.get(rel_id) if isinstance(rel_id, str) else None
        if isinstance(related, dict) and related.get("priceType") == "discount":
            data["discount"] = _number(related.get("percentage"), f"{field}.percentage")
    return data


def parse_product_offering(
    doc: Mapping[str, Any], pops: Mapping[str, Any], *, dataset_id: str | None = None
) -> Offering:
    """An :class:`Offering` from a TMF620 productOffering and its POPs (by id).

    Each price needs its ODRL terms (an ``AgoraOdrlTerms`` productOfferingTerm naming it): a
    price without terms would sell the data without usage control.
    """
    if not isinstance(doc, Mapping):
        raise ViewError(
            "a productOffering is an object", expected="an object", found=type(doc).__name__
        )
    spec = doc.get("productSpecification")
    dataset = dataset_id or (spec.get("id") if isinstance(spec, dict) else None)
    status = doc.get("lifecycleStatus", "In design")
    lifecycle = _LIFECYCLE_OF.get(status.lower()) if isinstance(status, str) else None
    if lifecycle is None:
        raise ViewError(
            "unknown lifecycleStatus",
            field="lifecycleStatus",
            expected=" | ".join(LIFECYCLE_STATUS.values()),
            found=status,
        )
    terms_by_pop: dict[str, Any] = {}
    for i, term in enumerate(_list(doc, "productOfferingTerm", "")):
        if not isinstance(term, dict) or term.get("@type") != "AgoraOdrlTerms":
            continue
        ref = term.get("productOfferingPrice")
        ident = ref.get("id") if isinstance(ref, dict) else None
        if not isinstance(ident, str):
            raise ViewError(
                "terms name their price",
                field=f"productOfferingTerm.{i}.productOfferingPrice",
                expected="{id}",
                found=ref,
            )
        terms_by_pop[ident] = term.get("odrlPolicy")
    plans = []
    refs = doc.get("productOfferingPrice") or []
    if not isinstance(refs, list):
        raise ViewError(
            "productOfferingPrice is a list",
            field="productOfferingPrice",
            expected="a list",
            found=refs,
        )
    for i, ref in enumerate(refs):
        field = f"productOfferingPrice.{i}"
        ident = ref.get("id") if isinstance(ref, dict) else None
        pop = pops.get(ident) if isinstance(ident, str) else None
        if not isinstance(pop, dict):
            raise ViewError(
                "price not found",
                field=f"{field}.id",
                expected="a productOfferingPrice id",
                found=ident,
            )
        if ident not in terms_by_pop:
            raise ViewError(
                "each price needs its ODRL terms",
                field=field,
                expected="an AgoraOdrlTerms productOfferingTerm",
                found=ident,
            )
        try:
            plan = parse_plan(parse_product_offering_price(pop, pops, field=field))
        except MarketplaceError as exc:
            # name the place in the TMF document, then the plan field that is wrong
            raise (exc if exc.field.startswith(field) else exc.at(field)) from None
        plans.append({"plan": plan, "terms": terms_by_pop[ident]})
    version = doc.get("version", "1")
    found_valid = doc.get("validFor")
    valid_for: Mapping[str, Any] = found_valid if isinstance(found_valid, Mapping) else {}
    categories = [
        c.get("id") or c.get("name") for c in _list(doc, "category", "") if isinstance(c, dict)
    ]
    data = {
        "id": doc.get("id"),
        "version": int(version) if isinstance(version, str) and version.isdigit() else version,
        "dataset_id": dataset,
        "name": doc.get("name"),
        "description": doc.get("description") or "",
        "category": categories,
        "lifecycle": lifecycle,
        "valid_from": valid_for.get("startDateTime"),
        "valid_to": valid_for.get("endDateTime"),
        "plans": plans,
    }
    return parse_offering(data)
