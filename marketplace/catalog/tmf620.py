"""The aggregated offerings in the TMF620 shape: one productOffering per indexed dataset.

The crawled catalog holds DSP offers, not the members' offering records, so this view keeps to
what the offers say: the dataset as productSpecification, the member as the provider
relatedParty, and the lowest price read from the offers as an embedded productOfferingPrice
(priceType ``oneTime`` / ``recurring`` / ``usage``, as in ``marketplace.views.tmf620``).
Negotiation still goes to the member, over DSP.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PRICE_TYPE = {
    "one_off": "oneTime",
    "recurring": "recurring",
    "metered": "usage",
    "tiered": "usage",
    "freemium": "usage",
}


def product_offering(item: Mapping[str, Any], base_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": item["datasetId"]}
    if base_url:
        out["href"] = f"{base_url.rstrip('/')}/catalog/productOffering?q=&publisher={item['node']}"
    out.update(
        {
            "name": item["title"],
            "description": item.get("description") or "",
            "lifecycleStatus": "Launched",
            "isBundle": False,
            "isSellable": True,
            "category": [{"id": t, "name": t} for t in item.get("entityTypes") or []],
            "productSpecification": {
                "id": item["datasetId"],
                "name": item["title"],
                "@referredType": "ProductSpecification",
            },
            "relatedParty": [
                {"id": item["publisher"], "role": "provider", "@referredType": "Organization"}
            ],
            "productOfferingPrice": [],
            "@type": "ProductOffering",
        }
    )
    model = item.get("priceModel", "free")
    if model != "free":
        pop: dict[str, Any] = {
            "name": model,
            "priceType": PRICE_TYPE.get(model, "usage"),
            "pricingLogicAlgorithm": [{"name": f"agora:{model}"}],
            "@type": "ProductOfferingPrice",
        }
        if item.get("price") is not None:
            pop["price"] = {"unit": item.get("currency") or "EUR", "value": item["price"]}
        out["productOfferingPrice"].append(pop)
    return out
