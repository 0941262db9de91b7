"""The DSP catalog view: a plan's ``hasPolicy`` Offer, its price in the DSP-safe form.

DSP 2025-1's contract schema lets a rule hold only ``action`` (a string) and ``constraint``, so the
textbook ``compensate`` duty refined by ``payAmount`` does not validate. The price goes in the
policy's ``obligation`` instead: one ``compensate`` duty whose constraints state the amount
(``payAmount``, the currency IRI as ``odrl:unit``) and, under the Agora pricing profile
(:data:`PRICING_PROFILE`, declared in the offer's ``profile``), how to read it:

``pricing:priceModel``  oneOff | recurring | metered | tiered | freemium (an IRI)
``pricing:billingPeriod``  an ``xsd:duration`` (P1D, P1W, P1M, P1Y)
``pricing:meteredUnit``  pricing:request | pricing:entity | pricing:megabyte; ``payAmount`` is then
                         the rate per unit
``pricing:freeQuota``  units free per billing period (``unit`` = the metered unit)
``pricing:tierMode``  pricing:graduated | pricing:volume
``pricing:priceSchedule``  the tier table, by reference: the IRI of its TMF620 productOfferingPrice
``pricing:discount``, ``pricing:vatRate``  percentages; ``payAmount`` is net of VAT

ODRL's best practice for a table is ``rightOperandReference``, but DSP 2025-1 requires
``rightOperand`` on every constraint and ODRL forbids both at once, so the reference is the IRI
value (``{"@id": …}``) of ``pricing:priceSchedule``'s ``rightOperand``. A free plan has no
obligation and no pricing profile. A receiver that does not know a declared profile must refuse
the offer (:func:`check_profiles`) rather than ignore its price.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from ..errors import MarketplaceError, ViewError
from ..money import Currency, currency, parse_amount
from ..offerings import ODRL, PRICING_NS, Offering, PlanOffer
from ..plans import (
    FreemiumPlan,
    FreePlan,
    MeteredPlan,
    OneOffPlan,
    RecurringPlan,
    Tier,
    TieredPlan,
    parse_plan,
)
from .ids import offer_id, price_reference

PRICING_PROFILE: Final = PRICING_NS.rstrip("#")
PRICING: Final = PRICING_NS
POLICY_PROFILE: Final = "https://w3id.org/agora/policy"
KNOWN_PROFILES: Final = frozenset({PRICING_PROFILE, POLICY_PROFILE})
XSD_DECIMAL: Final = "xsd:decimal"
XSD_DURATION: Final = "xsd:duration"
UNIT_IRIS: Final = {
    "request": PRICING + "request",
    "entity": PRICING + "entity",
    "MB": PRICING + "megabyte",
}
MODEL_IRIS: Final = {
    "one_off": PRICING + "oneOff",
    "recurring": PRICING + "recurring",
    "metered": PRICING + "metered",
    "tiered": PRICING + "tiered",
    "freemium": PRICING + "freemium",
}
# The DSP 2025-1 context defines no ``unit`` term: a bare "unit" would be dropped by JSON-LD
# expansion (and is refused by the policies parser), so the key is the compact IRI odrl:unit.
UNIT_KEY: Final = "odrl:unit"
_UNIT_KEYS: Final = (UNIT_KEY, ODRL + "unit", "unit")
_UNIT_OF: Final = {v: k for k, v in UNIT_IRIS.items()}
_MODEL_OF: Final = {v: k for k, v in MODEL_IRIS.items()}


def amount_text(amount: Decimal, cur: Currency) -> str:
    """Fixed-point text with at least the currency's decimals ("49" → "49.00"), never rounded."""
    if isinstance(e := amount.as_tuple().exponent, int) and -e < cur.minor_units:
        amount = amount.quantize(cur.quantum)
    return f"{amount:f}"


def _eq(left: str, right: Any, unit: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"leftOperand": left, "operator": "eq", "rightOperand": right}
    if unit is not None:
        c[UNIT_KEY] = {"@id": unit}
    return c


def _decimal(text: str) -> dict[str, str]:
    return {"@value": text, "@type": XSD_DECIMAL}


def compensate_duty(
    offering: Offering, po: PlanOffer, base_url: str | None = None
) -> dict[str, Any] | None:
    """The ``compensate`` obligation that states the plan's price, or ``None`` for a free plan."""
    plan = po.plan
    if isinstance(plan, FreePlan):
        return None
    cur = plan.money
    cs = [_eq(PRICING + "priceModel", {"@id": MODEL_IRIS[plan.kind]})]
    if isinstance(plan, OneOffPlan | RecurringPlan):
        cs.append(_eq("payAmount", _decimal(amount_text(plan.price, cur)), cur.iri))
    if isinstance(plan, MeteredPlan | FreemiumPlan):
        cs.append(_eq("payAmount", _decimal(amount_text(plan.rate, cur)), cur.iri))
    if not isinstance(plan, OneOffPlan):
        cs.append(_eq(PRICING + "billingPeriod", {"@value": plan.period, "@type": XSD_DURATION}))
    if isinstance(plan, MeteredPlan | TieredPlan | FreemiumPlan):
        cs.append(_eq(PRICING + "meteredUnit", {"@id": UNIT_IRIS[plan.unit]}))
    if isinstance(plan, FreemiumPlan):
        cs.append(
            _eq(PRICING + "freeQuota", _decimal(f"{plan.free_quota:f}"), UNIT_IRIS[plan.unit])
        )
    if isinstance(plan, TieredPlan):
        cs.append(_eq(PRICING + "tierMode", {"@id": PRICING + plan.mode}))
        ref = price_reference(offering, plan.id, base_url)
        cs.append(_eq(PRICING + "priceSchedule", {"@id": ref}, cur.iri))
    if plan.discount:
        cs.append(_eq(PRICING + "discount", _decimal(f"{plan.discount:f}")))
    if plan.vat_rate:
        cs.append(_eq(PRICING + "vatRate", _decimal(f"{plan.vat_rate:f}")))
    return {"action": "compensate", "constraint": cs}


def dsp_offer(offering: Offering, po: PlanOffer, *, base_url: str | None = None) -> dict[str, Any]:
    """The catalog ``Offer`` of one plan: its terms plus its price (no ``target``: the Dataset
    that holds the offer is the target)."""
    terms = po.policy()
    offer: dict[str, Any] = {"@id": offer_id(offering, po.plan.id), "@type": "Offer"}
    profiles = terms.get("profile", [])
    profiles = [profiles] if isinstance(profiles, str) else list(profiles)
    duty = compensate_duty(offering, po, base_url)
    if duty is not None and PRICING_PROFILE not in profiles:
        profiles.insert(0, PRICING_PROFILE)
    if profiles:
        offer["profile"] = profiles
    for key in ("permission", "prohibition"):
        if key in terms:
            offer[key] = terms[key]
    obligations = ([duty] if duty else []) + list(terms.get("obligation", []))
    if obligations:
        offer["obligation"] = obligations
    return offer


def dsp_offers(offering: Offering, *, base_url: str | None = None) -> list[dict[str, Any]]:
    """The ``hasPolicy`` array of the offering's Dataset: one Offer per plan."""
    return [dsp_offer(offering, po, base_url=base_url) for po in offering.plans]


def check_profiles(offer: dict[str, Any], known: frozenset[str] = KNOWN_PROFILES) -> None:
    """Refuse an offer that declares a profile we do not understand (its price could be there)."""
    declared = offer.get("profile", [])
    for p in [declared] if not isinstance(declared, list) else declared:
        iri = _iri(p)
        if not isinstance(iri, str) or iri not in known:
            raise ViewError(
                "the offer uses a profile this connector does not understand",
                field="profile",
                expected=" | ".join(sorted(known)),
                found=p,
            )


def _iri(value: Any) -> Any:
    return value.get("@id") if isinstance(value, dict) else value


def _lookup(table: dict[str, str], value: Any) -> str | None:
    key = _iri(value)
    return table.get(key) if isinstance(key, str) else None


def _literal(value: Any) -> Any:
    return value.get("@value") if isinstance(value, dict) else value


def _odrl(value: Any) -> str:
    """An ODRL term however it is written: bare, ``odrl:`` compact IRI or full IRI."""
    word = _iri(value)
    if not isinstance(word, str):
        return ""
    for prefix in (ODRL, "odrl:"):
        if word.startswith(prefix):
            return word[len(prefix) :]
    return word


def _left(c: dict[str, Any]) -> str:
    return _odrl(c.get("leftOperand"))


def _unit(c: dict[str, Any]) -> str:
    for key in _UNIT_KEYS:
        if key in c:
            value = _iri(c[key])
            return value if isinstance(value, str) else ""
    return ""


def price_terms(offer: dict[str, Any]) -> dict[str, Any] | None:
    """The pricing constraints of an offer's ``compensate`` obligation, by name, or ``None``."""
    if not isinstance(offer, dict):
        raise ViewError("an offer is an object", expected="an object", found=type(offer).__name__)
    check_profiles(offer)
    obligations = offer.get("obligation", [])
    if not isinstance(obligations, list):
        raise ViewError(
            "obligation is a list", field="obligation", expected="a list", found=obligations
        )
    duties = [
        d for d in obligations if isinstance(d, dict) and _odrl(d.get("action")) == "compensate"
    ]
    if not duties:
        return None
    if len(duties) > 1:
        raise ViewError(
            "an offer states one price", field="obligation", expected="1", found=len(duties)
        )
    found: dict[str, Any] = {}
    constraints = duties[0].get("constraint", [])
    if not isinstance(constraints, list):
        constraints = [constraints]
    for i, c in enumerate(constraints):
        if not isinstance(c, dict):
            raise ViewError(
                "a price term is a constraint",
                field=f"obligation.0.constraint.{i}",
                expected="an object",
                found=c,
            )
        name = _left(c)
        name = name[len(PRICING) :] if name.startswith(PRICING) else name
        if name in found:
            raise ViewError(
                "a price term is stated twice",
                field=f"obligation.0.constraint.{i}",
                expected="once",
                found=name,
            )
        if _odrl(c.get("operator")) != "eq":
            raise ViewError(
                "price terms are equalities",
                field=f"obligation.0.constraint.{i}",
                expected="eq",
                found=c.get("operator"),
            )
        found[name] = c
    return found


def plan_from_offer(
    offer: dict[str, Any], *, plan_id: str = "offer", tiers: tuple[Tier, ...] | None = None
) -> Any:
    """Read the price plan back from a DSP offer (what a consumer agrees to pay).

    A tiered plan's table is only referenced from the offer; pass it as ``tiers`` once read from
    its ``priceSchedule``. Raises a :class:`MarketplaceError` for an offer whose price is
    incomplete, contradictory or under an unknown profile.
    """
    terms = price_terms(offer)
    if terms is None:
        return FreePlan(id=plan_id)
    try:
        model = _lookup(_MODEL_OF, terms["priceModel"]["rightOperand"])
        if model is None:
            raise ViewError(
                "unknown price model",
                field="priceModel",
                expected=" | ".join(_MODEL_OF),
                found=terms["priceModel"]["rightOperand"],
            )
        data: dict[str, Any] = {"id": plan_id, "kind": model}
        cur = None
        if "payAmount" in terms:
            cur = currency(_unit(terms["payAmount"]))
            text = _literal(terms["payAmount"]["rightOperand"])
            field = "price" if model in ("one_off", "recurring") else "rate"
            data[field] = parse_amount(text, field="payAmount")
        if "priceSchedule" in terms:
            cur = currency(_unit(terms["priceSchedule"]))
            data["tiers"] = tiers
        if cur is None:
            raise ViewError(
                "a price needs a currency", field="payAmount", expected="a unit", found=None
            )
        data["currency"] = cur.code
        if "billingPeriod" in terms:
            data["period"] = _literal(terms["billingPeriod"]["rightOperand"])
        if "meteredUnit" in terms:
            data["unit"] = _lookup(_UNIT_OF, terms["meteredUnit"]["rightOperand"]) or "?"
        if "freeQuota" in terms:
            data["free_quota"] = _literal(terms["freeQuota"]["rightOperand"])
        if "tierMode" in terms:
            mode = _iri(terms["tierMode"]["rightOperand"])
            data["mode"] = (
                mode[len(PRICING) :] if isinstance(mode, str) and mode.startswith(PRICING) else mode
            )
        for name in ("discount", "vatRate"):
            if name in terms:
                data["vat_rate" if name == "vatRate" else name] = _literal(
                    terms[name]["rightOperand"]
                )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ViewError(
            "incomplete price term", field="obligation", expected="rightOperand", found=str(exc)
        ) from None
    except MarketplaceError:
        raise
    return parse_plan(data)
