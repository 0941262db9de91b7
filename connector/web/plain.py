"""Prices and terms in plain words, for the pages (the policies' own explanations)."""

from __future__ import annotations

from typing import Any

from marketplace.offerings import Offering, PlanOffer
from policies import parse_policy
from policies.errors import PoliciesError
from policies.explain import explain_policy

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
PERIODS = {"P1D": "day", "P1W": "week", "P1M": "month", "P1Y": "year"}


def terms_lines(policy: dict[str, Any], uid: str = "urn:agora:terms") -> list[str]:
    """The ODRL terms as the sentences of ``policies.explain`` (first line, the id, dropped)."""
    doc = {"@context": DSP_CONTEXT, "@id": uid, "@type": "Offer", **policy}
    doc.setdefault("@id", uid)
    try:
        text = explain_policy(parse_policy(doc))
    except PoliciesError as exc:
        return [f"(terms not readable: {exc})"]
    lines = [line.removeprefix("- ").strip() for line in text.splitlines()[1:]]
    return [line for line in lines if line]


def price(plan: PlanOffer) -> dict[str, Any]:
    """What a plan costs, as the template words it: kind, amount, currency, period."""
    p: Any = plan.plan
    amount = getattr(p, "price", None) or getattr(p, "rate", None)
    return {
        "id": p.id,
        "name": p.name or p.id,
        "kind": p.kind,
        "amount": None if amount is None else f"{amount:f}",
        "currency": p.currency,
        "period": PERIODS.get(getattr(p, "period", "") or "", ""),
        "unit": getattr(p, "unit", None),
    }


def purposes(policy: dict[str, Any]) -> list[str]:
    """The purposes an agreement's constraints name (any rule, any depth)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            left = node.get("leftOperand")
            if isinstance(left, str) and left.rsplit("/", 1)[-1].rsplit(":", 1)[-1] == "purpose":
                right = node.get("rightOperand")
                values = right if isinstance(right, list) else [right]
                for v in values:
                    v = v.get("@id") or v.get("@value") if isinstance(v, dict) else v
                    if isinstance(v, str) and v not in found:
                        found.append(v)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(policy)
    return found


def short(iri: str) -> str:
    """The last segment of an IRI, for a table cell."""
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def offering_view(offering: Offering) -> dict[str, Any]:
    from marketplace.views.ids import offer_id

    return {
        "id": offering.id,
        "version": offering.version,
        "name": offering.name,
        "description": offering.description,
        "dataset_id": offering.dataset_id,
        "lifecycle": offering.lifecycle.value,
        "plans": [
            {
                **price(p),
                "offer_id": offer_id(offering, p.plan.id),
                "terms": terms_lines(p.policy()),
            }
            for p in offering.plans
        ],
    }
