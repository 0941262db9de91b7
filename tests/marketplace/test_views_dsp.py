"""The DSP view: each plan's Offer validates against DSP 2025-1 and states its price exactly."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from referencing import Registry
from referencing.jsonschema import DRAFT201909

from marketplace.errors import MarketplaceError, ViewError
from marketplace.offerings import Offering
from marketplace.plans import TieredPlan
from marketplace.views.dsp import (
    PRICING,
    PRICING_PROFILE,
    check_profiles,
    dsp_offers,
    plan_from_offer,
    price_terms,
)
from policies import parse_policy
from policies.agreements import to_agreement
from policies.jsonld import to_compact

SCHEMAS = Path(__file__).resolve().parents[2] / "connector" / "dsp" / "schemas"
BASE = "https://w3id.org/dspace/2025/1/"
CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


def _validator(rel: str) -> Draft201909Validator:
    resources = []
    for path in SCHEMAS.rglob("*-schema.json"):
        doc = json.loads(path.read_text())
        resources.append((BASE + str(path.relative_to(SCHEMAS)), DRAFT201909.create_resource(doc)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft201909Validator(registry.contents(BASE + rel), registry=registry)


DATASET = _validator("catalog/dataset-schema.json")
AGREEMENT = _validator("negotiation/contract-agreement-message-schema.json")


def dataset(offers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": [CONTEXT],
        "@id": "urn:agora:dataset:air-quality",
        "@type": "Dataset",
        "hasPolicy": offers,
        "distribution": [
            {
                "@type": "Distribution",
                "format": "NGSI-LD-PULL",
                "accessService": {
                    "@id": "https://city.example#data-service",
                    "@type": "DataService",
                    "endpointURL": "https://city.example",
                },
            }
        ],
    }


def test_every_offer_validates_in_a_dataset(offering: Offering) -> None:
    offers = dsp_offers(offering, base_url="https://city.example")
    assert len(offers) == len(offering.plans)
    errors = [e.message for e in DATASET.iter_errors(dataset(offers))]
    assert errors == []


def test_the_schema_check_can_fail(offering: Offering) -> None:
    offers = dsp_offers(offering)
    offers[2]["obligation"][0]["action"] = {"@id": "compensate"}  # the textbook object form
    assert not DATASET.is_valid(dataset(offers))


def _terms(offer: dict[str, Any]) -> dict[str, Any]:
    terms = price_terms(offer)
    assert terms is not None
    return terms


def test_recurring_price_as_marketplace_md_writes_it(offering: Offering) -> None:
    offer = dsp_offers(offering)[2]
    assert offer["profile"] == [PRICING_PROFILE]
    assert offer["permission"] == offering.plans[2].policy()["permission"]
    assert offer["prohibition"] == [{"action": "distribute"}]
    assert "target" not in offer
    duty = offer["obligation"][0]
    assert duty["action"] == "compensate"
    pay = next(c for c in duty["constraint"] if c["leftOperand"] == "payAmount")
    assert pay == {
        "leftOperand": "payAmount",
        "operator": "eq",
        "rightOperand": {"@value": "49.00", "@type": "xsd:decimal"},
        "odrl:unit": {"@id": "http://dbpedia.org/resource/Euro"},
    }
    t = _terms(offer)
    assert t["billingPeriod"]["rightOperand"] == {"@value": "P1M", "@type": "xsd:duration"}
    assert t["discount"]["rightOperand"]["@value"] == "10"
    assert t["vatRate"]["rightOperand"]["@value"] == "21"


def test_free_plan_has_no_price_and_no_profile(offering: Offering) -> None:
    offer = dsp_offers(offering)[0]
    assert "obligation" not in offer and "profile" not in offer


def test_metered_and_freemium_terms(offering: Offering) -> None:
    offers = dsp_offers(offering)
    metered, freemium = _terms(offers[3]), _terms(offers[6])
    assert metered["meteredUnit"]["rightOperand"] == {"@id": PRICING + "megabyte"}
    assert metered["payAmount"]["rightOperand"]["@value"] == "0.0125"  # a rate is never rounded
    assert metered["billingPeriod"]["rightOperand"]["@value"] == "P1W"
    assert freemium["freeQuota"]["rightOperand"]["@value"] == "1000"
    assert freemium["freeQuota"]["odrl:unit"] == {"@id": PRICING + "request"}
    assert freemium["payAmount"]["odrl:unit"] == {
        "@id": "http://dbpedia.org/resource/Pound_sterling"
    }


def test_tier_table_by_reference_to_its_tmf_price(offering: Offering) -> None:
    t = _terms(dsp_offers(offering, base_url="https://city.example/")[4])
    assert t["priceSchedule"]["rightOperand"] == {
        "@id": "https://city.example/tmf-api/productCatalogManagement/v4/productOfferingPrice/"
        "air-quality:1:graduated"
    }
    assert t["tierMode"]["rightOperand"] == {"@id": PRICING + "graduated"}
    assert "payAmount" not in t


def test_offers_parse_as_odrl_and_the_price_reaches_the_agreement(offering: Offering) -> None:
    for po, offer in zip(offering.plans, dsp_offers(offering), strict=True):
        policy = parse_policy({"@context": CONTEXT, **offer})
        agreement = to_agreement(
            policy,
            uid="urn:uuid:1",
            assignee="did:web:consumer.example",
            assigner="did:web:city.example",
            target="urn:agora:dataset:air-quality",
        )
        message: dict[str, Any] = {
            "@context": [CONTEXT],
            "@type": "ContractAgreementMessage",
            "providerPid": "urn:uuid:p",
            "consumerPid": "urn:uuid:c",
            "agreement": to_compact(agreement, embedded=True),
        }
        assert [e.message for e in AGREEMENT.iter_errors(message)] == []
        # the agreement, as the policies library writes it, carries the very price of the offer
        tiers = po.plan.tiers if isinstance(po.plan, TieredPlan) else None
        assert plan_from_offer(message["agreement"], plan_id=po.plan.id, tiers=tiers) == po.plan


def test_plans_read_back_from_their_offers(offering: Offering) -> None:
    for po, offer in zip(offering.plans, dsp_offers(offering), strict=True):
        tiers = po.plan.tiers if isinstance(po.plan, TieredPlan) else None
        assert plan_from_offer(offer, plan_id=po.plan.id, tiers=tiers) == po.plan


def test_unknown_profile_refused(offering: Offering) -> None:
    offer = dsp_offers(offering)[2]
    offer["profile"].append("https://example.org/secret-surcharges")
    with pytest.raises(ViewError) as e:
        check_profiles(offer)
    assert e.value.found == "https://example.org/secret-surcharges"
    with pytest.raises(ViewError):
        plan_from_offer(offer)


def _break(offer: dict[str, Any], name: str, value: Any) -> dict[str, Any]:
    offer = copy.deepcopy(offer)
    for c in offer["obligation"][0]["constraint"]:
        if c["leftOperand"] in (name, PRICING + name):
            if value is None:
                offer["obligation"][0]["constraint"].remove(c)
            else:
                c.update(value)
            return offer
    raise AssertionError(name)


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("payAmount", {"rightOperand": {"@value": "-49.00", "@type": "xsd:decimal"}}),
        ("payAmount", {"rightOperand": {"@value": "4.9e1", "@type": "xsd:decimal"}}),
        ("payAmount", {"odrl:unit": {"@id": "http://dbpedia.org/resource/Gold"}}),
        ("payAmount", {"operator": "lteq"}),
        ("payAmount", None),
        ("billingPeriod", {"rightOperand": {"@value": "P3M", "@type": "xsd:duration"}}),
        ("priceModel", {"rightOperand": {"@id": PRICING + "auction"}}),
        ("priceModel", None),
    ],
)
def test_bad_price_in_an_offer_refused(
    offering: Offering, name: str, change: dict[str, Any] | None
) -> None:
    offer = _break(dsp_offers(offering)[2], name, change)
    with pytest.raises(MarketplaceError):
        plan_from_offer(offer)


def test_two_prices_refused(offering: Offering) -> None:
    offer = dsp_offers(offering)[2]
    offer["obligation"].append(copy.deepcopy(offer["obligation"][0]))
    with pytest.raises(ViewError):
        plan_from_offer(offer)


def test_amount_text_keeps_currency_decimals(offering: Offering) -> None:
    jpy = _terms(dsp_offers(offering)[1])["payAmount"]["rightOperand"]["@value"]
    assert jpy == "120"
    assert Decimal(jpy) == 120
