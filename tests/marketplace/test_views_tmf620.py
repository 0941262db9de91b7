"""The TMF620 view: field names, exact JSON numbers, and reading it back into the same model."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest

from marketplace.errors import MarketplaceError, MoneyError, ViewError
from marketplace.numbers import dumps, loads
from marketplace.offerings import Offering, parse_offering
from marketplace.views.tmf620 import (
    parse_product_offering,
    product_offering,
    product_offering_prices,
)

from .conftest import offering_data

BASE = "https://city.example"


def wire(offering: Offering) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two resources as a TMF client receives them: JSON text, read back with Decimals."""
    po = loads(dumps(product_offering(offering, base_url=BASE)))
    pops = {p["id"]: p for p in loads(dumps(product_offering_prices(offering, base_url=BASE)))}
    return po, pops


def test_product_offering_fields(offering: Offering) -> None:
    po = product_offering(offering, base_url=BASE)
    assert po["href"] == f"{BASE}/tmf-api/productCatalogManagement/v4/productOffering/air-quality"
    assert (po["lifecycleStatus"], po["isSellable"], po["version"]) == ("Launched", True, "1")
    assert po["category"] == [{"id": "environment", "name": "environment"}]
    assert po["productSpecification"]["id"] == "urn:agora:dataset:air-quality"
    assert [p["id"] for p in po["productOfferingPrice"]] == [
        f"air-quality:1:{p.plan.id}" for p in offering.plans
    ]
    terms = po["productOfferingTerm"][2]
    assert terms["odrlPolicy"] == offering.plans[2].policy()
    assert terms["productOfferingPrice"]["id"] == "air-quality:1:monthly"


def test_draft_is_not_sellable() -> None:
    po = product_offering(parse_offering(offering_data()))
    assert (po["lifecycleStatus"], po["isSellable"]) == ("In design", False)
    assert "href" not in po


def _pops(offering: Offering) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in product_offering_prices(offering, base_url=BASE)}


def test_recurring_price_fields(offering: Offering) -> None:
    pop = _pops(offering)["air-quality:1:monthly"]
    assert pop["priceType"] == "recurring"
    assert (pop["recurringChargePeriodType"], pop["recurringChargePeriodLength"]) == ("monthly", 1)
    assert pop["price"] == {"unit": "EUR", "value": Decimal("49.00")}
    assert pop["tax"] == [{"taxCategory": "VAT", "taxRate": Decimal("0.21")}]
    rel = pop["popRelationship"][0]
    assert rel["relationshipType"] == "discount"
    discount = _pops(offering)[rel["id"]]
    assert (discount["priceType"], discount["percentage"]) == ("discount", Decimal(10))


def test_value_is_an_exact_json_number(offering: Offering) -> None:
    text = dumps(product_offering_prices(offering))
    assert '"price":{"unit":"EUR","value":49.00}' in text
    assert '"value":0.0125' in text  # the per-MB rate, not 0.012500000000000001
    assert '"taxRate":0.21' in text
    assert json.loads(text)  # still plain JSON to any reader


def test_metered_tiered_freemium_shapes(offering: Offering) -> None:
    pops = _pops(offering)
    metered = pops["air-quality:1:per-mb"]
    assert (metered["priceType"], metered["unitOfMeasure"]) == (
        "usage",
        {"amount": 1, "units": "MB"},
    )
    assert metered["recurringChargePeriodType"] == "weekly"
    tiered = pops["air-quality:1:graduated"]
    assert tiered["isBundle"] is True
    assert tiered["pricingLogicAlgorithm"][0] == {
        "name": "agora:tiered",
        "description": "graduated",
        "@type": "PricingLogicAlgorithm",
    }
    tiers = [pops[r["id"]] for r in tiered["bundledPopRelationship"]]
    assert [(t["tierStart"], t.get("tierEnd"), t["price"]["value"]) for t in tiers] == [
        (0, 1000, Decimal("0.00")),
        (1000, 5000, Decimal("0.002")),
        (5000, None, Decimal("0.001")),
    ]
    assert all(t["@baseType"] == "ProductOfferingPrice" for t in tiers)
    freemium = pops["air-quality:1:freemium"]
    quota, above = (pops[r["id"]] for r in freemium["bundledPopRelationship"])
    assert quota["@type"] == "AgoraFreeQuota"
    assert quota["unitOfMeasure"] == {"amount": 1000, "units": "request"}
    assert above["price"] == {"unit": "GBP", "value": Decimal("0.003")}


def test_round_trip_through_json(offering: Offering) -> None:
    po, pops = wire(offering)
    assert parse_product_offering(po, pops) == offering


def test_round_trip_of_a_draft_with_validity() -> None:
    o = parse_offering(
        offering_data(valid_from="2026-01-01T00:00:00Z", valid_to="2027-01-01T00:00:00Z")
    )
    po, pops = wire(o)
    assert po["validFor"] == {
        "startDateTime": "2026-01-01T00:00:00Z",
        "endDateTime": "2027-01-01T00:00:00Z",
    }
    assert parse_product_offering(po, pops) == o


def test_floats_from_a_plain_json_reader_keep_their_digits(offering: Offering) -> None:
    po = json.loads(dumps(product_offering(offering)))
    pops = {p["id"]: p for p in json.loads(dumps(product_offering_prices(offering)))}
    assert parse_product_offering(po, pops) == offering


@pytest.mark.parametrize(
    ("plan", "kind"),
    [("monthly", "recurring"), ("open", "free"), ("once", "one_off"), ("per-mb", "metered")],
)
def test_a_foreign_pop_without_agora_algorithm(plan: str, kind: str) -> None:
    o = parse_offering(offering_data())
    po, pops = wire(o)
    del pops[f"air-quality:1:{plan}"]["pricingLogicAlgorithm"]
    back = parse_product_offering(po, pops).plan(plan).plan
    assert back.kind == kind
    assert back == o.plan(plan).plan


def _break(offering: Offering, pop_id: str, **change: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    po, pops = wire(offering)
    pops = copy.deepcopy(pops)
    for key, value in change.items():
        if value is None:
            pops[pop_id].pop(key, None)
        else:
            pops[pop_id][key] = value
    return po, pops


M = "air-quality:1:monthly"
BAD: list[tuple[str, str, dict[str, Any], type[Exception]]] = [
    ("negative", M, {"price": {"unit": "EUR", "value": Decimal("-1")}}, MoneyError),
    ("string amount with exponent", M, {"price": {"unit": "EUR", "value": "1e2"}}, MoneyError),
    ("float with exponent", M, {"price": {"unit": "EUR", "value": 1e30}}, ViewError),
    ("bool amount", M, {"price": {"unit": "EUR", "value": True}}, MoneyError),
    ("unknown currency", M, {"price": {"unit": "EURO", "value": 1}}, MarketplaceError),
    ("no price", M, {"price": None}, ViewError),
    ("unknown period", M, {"recurringChargePeriodType": "fortnightly"}, ViewError),
    ("period length", M, {"recurringChargePeriodLength": 3}, ViewError),
    (
        "unknown algorithm and type",
        M,
        {"pricingLogicAlgorithm": None, "priceType": "barter"},
        ViewError,
    ),
    ("tier gap", "air-quality:1:graduated:tier2", {"tierStart": 1001}, MarketplaceError),
    (
        "tier rate",
        "air-quality:1:graduated:tier2",
        {"price": {"unit": "EUR", "value": "-0.1"}},
        MoneyError,
    ),
    (
        "metered per 10",
        "air-quality:1:per-mb",
        {"unitOfMeasure": {"amount": 10, "units": "MB"}},
        ViewError,
    ),
    (
        "unit",
        "air-quality:1:per-mb",
        {"unitOfMeasure": {"amount": 1, "units": "GB"}},
        MarketplaceError,
    ),
]


@pytest.mark.parametrize(("why", "pop", "change", "error"), BAD, ids=[b[0] for b in BAD])
def test_bad_tmf_input_refused(
    offering: Offering, why: str, pop: str, change: dict[str, Any], error: type[Exception]
) -> None:
    po, pops = _break(offering, pop, **change)
    with pytest.raises(error) as e:
        parse_product_offering(po, pops)
    assert isinstance(e.value, MarketplaceError)
    assert e.value.field.startswith("productOfferingPrice."), e.value.field


def test_price_without_terms_refused(offering: Offering) -> None:
    po, pops = wire(offering)
    po["productOfferingTerm"] = po["productOfferingTerm"][1:]
    with pytest.raises(ViewError) as e:
        parse_product_offering(po, pops)
    assert e.value.field == "productOfferingPrice.0"


def test_missing_pop_refused(offering: Offering) -> None:
    po, pops = wire(offering)
    del pops["air-quality:1:graduated:tier1"]
    with pytest.raises(ViewError):
        parse_product_offering(po, pops)


def test_unknown_lifecycle_refused(offering: Offering) -> None:
    po, pops = wire(offering)
    po["lifecycleStatus"] = "Shipping"
    with pytest.raises(ViewError) as e:
        parse_product_offering(po, pops)
    assert e.value.field == "lifecycleStatus"


def test_terms_with_a_price_refused_on_the_write_side(offering: Offering) -> None:
    po, pops = wire(offering)
    po["productOfferingTerm"][0]["odrlPolicy"] = {
        "permission": [{"action": "use", "duty": [{"action": "compensate"}]}]
    }
    with pytest.raises(MarketplaceError) as e:
        parse_product_offering(po, pops)
    assert e.value.field.startswith("plans.0.terms")


def test_numbers_module() -> None:
    assert dumps({"a": [Decimal("49.00"), Decimal("1E+2"), 1, "x", None, True]}) == (
        '{"a":[49.00,100,1,"x",null,true]}'
    )
    assert loads("[0.10, 2]") == [Decimal("0.10"), 2]
    for bad in (0.1, Decimal("NaN"), {1: 2}):
        with pytest.raises(ViewError):
            dumps(bad)
