"""Example city data (Smart Data Models entities in and around Murcia) for the demo and tests.

The entities are written for Agora from the public Smart Data Models definitions
(AirQualityObserved, OffStreetParking/ParkingSpot, WasteContainer, TrafficFlowObserved); their
terms are in the bundled Smart Data Models context subset, so loading them needs no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FILES = (
    "air-quality-murcia.jsonld",
    "parking-murcia.jsonld",
    "waste-murcia.jsonld",
    "traffic-murcia.jsonld",
)


def load_examples(*names: str) -> list[dict[str, Any]]:
    """The example entities (each with its @context, ready for an ld+json batch upsert)."""
    out: list[dict[str, Any]] = []
    for name in names or FILES:
        out.extend(json.loads((HERE / name).read_text(encoding="utf-8")))
    return out
