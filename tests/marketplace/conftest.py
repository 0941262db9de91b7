"""Shared offering fixtures: one offering with a plan of every model."""

from __future__ import annotations

from typing import Any

import pytest

from marketplace.offerings import Offering, parse_offering

TERMS: dict[str, Any] = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "purpose",
                    "operator": "isAnyOf",
                    "rightOperand": ["https://w3id.org/dpv#CommercialPurpose"],
                }
            ],
        }
    ],
    "prohibition": [{"action": "distribute"}],
}

PLANS: list[dict[str, Any]] = [
    {"id": "open", "kind": "free"},
    {"id": "once", "kind": "one_off", "price": "120", "currency": "JPY"},
    {
        "id": "monthly",
        "kind": "recurring",
        "price": "49",
        "period": "P1M",
        "vat_rate": "21",
        "discount": "10",
    },
    {"id": "per-mb", "kind": "metered", "unit": "MB", "rate": "0.0125", "period": "P1W"},
    {
        "id": "graduated",
        "kind": "tiered",
        "mode": "graduated",
        "unit": "request",
        "tiers": [
            {"start": 0, "end": 1000, "rate": "0"},
            {"start": 1000, "end": 5000, "rate": "0.002"},
            {"start": 5000, "rate": "0.001"},
        ],
        "vat_rate": "19",
    },
    {
        "id": "volume",
        "kind": "tiered",
        "mode": "volume",
        "unit": "entity",
        "tiers": [{"start": 0, "end": 100, "rate": "0.05"}, {"start": 100, "rate": "0.03"}],
    },
    {
        "id": "freemium",
        "kind": "freemium",
        "unit": "request",
        "free_quota": 1000,
        "rate": "0.003",
        "period": "P1M",
        "currency": "http://dbpedia.org/resource/Pound_sterling",
    },
]


def offering_data(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "air-quality",
        "dataset_id": "urn:agora:dataset:air-quality",
        "name": "Air quality, live",
        "description": "NO2, PM10 and O3 from 40 stations",
        "category": ["environment"],
        "plans": [{"plan": p, "terms": TERMS} for p in PLANS],
    }
    data.update(over)
    return data


@pytest.fixture
def offering() -> Offering:
    return parse_offering(offering_data(lifecycle="published"))
