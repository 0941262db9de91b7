"""Offerings the marketplace tests publish."""

from __future__ import annotations

from typing import Any

from tests.dsp.helpers import Node

RESEARCH = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}
            ],
        }
    ]
}
COMMERCIAL = {"permission": [{"action": "use"}]}


def air_quality(dataset_id: str, oid: str = "air-quality") -> dict[str, Any]:
    return {
        "id": oid,
        "dataset_id": dataset_id,
        "name": "Air quality",
        "plans": [
            {"plan": {"id": "research", "kind": "free"}, "terms": RESEARCH},
            {
                "plan": {
                    "id": "commercial",
                    "kind": "recurring",
                    "price": "49.00",
                    "period": "P1M",
                },
                "terms": COMMERCIAL,
            },
        ],
    }


async def dataset(node: Node) -> str:
    status, ds = await node.admin(
        "POST", "/datasets", {"title": "Air quality", "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201, ds
    return str(ds["id"])


async def published(node: Node, oid: str = "air-quality") -> tuple[str, dict[str, Any]]:
    """(dataset id, the published offering's management view)."""
    ds = await dataset(node)
    status, body = await node.admin("POST", "/offerings", air_quality(ds, oid))
    assert status == 201, body
    status, body = await node.admin("POST", f"/offerings/{oid}/publish")
    assert status == 200, body
    return ds, body


async def catalog(consumer: Node, provider: Node) -> dict[str, Any]:
    status, body = await consumer.admin(
        "POST", "/catalog/request", {"counterPartyAddress": provider.dsp_url}
    )
    assert status == 200, body
    return dict(body)
