"""Small builders shared by the policies tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from policies import EvaluationRequest, World, parse_policy
from policies.model import Policy

DSP = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
AGORA = "https://w3id.org/agora/policy#"
TARGET = "urn:agora:dataset:air"
CONSUMER = "did:web:consumer.example"
CITY = "did:web:city.example"
NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
START = datetime(2026, 1, 1, tzinfo=UTC)


def doc(
    permission: list[dict[str, Any]] | None = None,
    prohibition: list[dict[str, Any]] | None = None,
    obligation: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "@context": DSP,
        "@type": "Agreement",
        "@id": "urn:agora:agreement:1",
        "assigner": CITY,
        "assignee": CONSUMER,
        "target": TARGET,
        "https://w3id.org/dspace/2025/1/timestamp": "2026-01-01T00:00:00Z",
    }
    if permission is not None:
        out["permission"] = permission
    if prohibition is not None:
        out["prohibition"] = prohibition
    if obligation is not None:
        out["obligation"] = obligation
    out.update(extra)
    return out


def constraint(left: str, op: str, right: Any, **extra: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right, **extra}


def perm(*constraints: dict[str, Any], action: Any = "use", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"action": action, **extra}
    if constraints:
        out["constraint"] = list(constraints)
    return out


def policy_with(*constraints: dict[str, Any], **kw: Any) -> Policy:
    return parse_policy(doc([perm(*constraints)], **kw))


def request(action: str = "use", **kw: Any) -> EvaluationRequest:
    kw.setdefault("target", TARGET)
    kw.setdefault("assignee", CONSUMER)
    return EvaluationRequest.create(action, **kw)


def world(**kw: Any) -> World:
    kw.setdefault("now", NOW)
    return World(**kw)
