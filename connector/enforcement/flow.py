"""Publish → negotiate → start a PULL transfer, through the two connectors' management APIs.

Used by the demo and the end-to-end tests: the same calls an operator's tooling makes. ``call``
is ``(who, method, path, json) -> (status, body)`` with ``who`` "provider" or "consumer".
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

Call = Callable[[str, str, str, Any], Awaitable[tuple[int, Any]]]


class FlowFailed(Exception):
    pass


@dataclass(frozen=True)
class Started:
    dataset_id: str
    agreement_id: str
    transfer_id: str  # the consumer's transfer id (its pull path uses it)
    token: str
    endpoint: str


def _ok(status: int, body: Any, expected: int, what: str) -> Any:
    if status != expected:
        raise FlowFailed(f"{what}: {status} {body}")
    return body


async def _until(call: Call, who: str, path: str, states: set[str], wait_s: float) -> Any:
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        status, body = await call(who, "GET", path, None)
        _ok(status, body, 200, path)
        if body["state"] in states:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise FlowFailed(f"{path} stayed {body['state']}; wanted {sorted(states)}: {body}")
        await asyncio.sleep(0.05)


async def publish_and_start(
    call: Call,
    provider_dsp_url: str,
    dataset: dict[str, Any],
    policy: dict[str, Any],
    wait_s: float = 20.0,
    provider_did: str | None = None,
    offer_settings: dict[str, Any] | None = None,
) -> Started:
    """The provider publishes ``dataset`` under ``policy``; the consumer negotiates and starts
    a PULL transfer; returns the consumer's view of what it can now use."""
    ds = _ok(*await call("provider", "POST", "/api/v1/datasets", dataset), 201, "dataset")
    pol = _ok(*await call("provider", "POST", "/api/v1/policies", policy), 201, "policy")
    offer = _ok(
        *await call(
            "provider",
            "POST",
            "/api/v1/offers",
            {"datasetId": ds["id"], "policyId": pol["id"], **(offer_settings or {})},
        ),
        201,
        "offer",
    )
    neg = _ok(
        *await call(
            "consumer",
            "POST",
            "/api/v1/negotiations",
            {
                "counterPartyAddress": provider_dsp_url,
                "offer": offer["offer"],
                "target": ds["id"],
                **({"counterPartyId": provider_did} if provider_did else {}),
            },
        ),
        201,
        "negotiation",
    )
    neg = await _until(
        call, "consumer", f"/api/v1/negotiations/{neg['id']}", {"FINALIZED", "TERMINATED"}, wait_s
    )
    if neg["state"] != "FINALIZED":
        raise FlowFailed(f"the negotiation ended {neg['state']}: {neg.get('error')}")
    tr = _ok(
        *await call(
            "consumer",
            "POST",
            "/api/v1/transfers",
            {"agreementId": neg["agreementId"], "format": "NGSI-LD-PULL"},
        ),
        201,
        "transfer",
    )
    tr = await _until(
        call, "consumer", f"/api/v1/transfers/{tr['id']}", {"STARTED", "TERMINATED"}, wait_s
    )
    if tr["state"] != "STARTED":
        raise FlowFailed(f"the transfer ended {tr['state']}: {tr.get('error')}")
    props = {
        p["name"]: p["value"] for p in (tr.get("dataAddress") or {}).get("endpointProperties", [])
    }
    return Started(
        ds["id"],
        neg["agreementId"],
        tr["id"],
        str(props.get("authorization", "")),
        str((tr.get("dataAddress") or {}).get("endpoint", "")),
    )
