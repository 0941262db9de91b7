"""Before the provider agrees: does the caller, with its verified credentials, meet the offer?

The ODRL work belongs to ``policies``: the offer is read with ``policies.jsonld.parse_policy``
and evaluated with the package's evaluator against a World holding the caller's verified
credentials. Only constraints that can be decided at negotiation time matter here (who the
caller is: membership, role, consent); usage constraints (counts, time windows, purpose of each
request) are enforced later by the data plane's PEP on the compiled agreement.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from connector.dsp.auth import Caller
from connector.dsp.claims import consents_of

_ODRL = "http://www.w3.org/ns/odrl/2/"
_AGORA = "https://w3id.org/agora/policy#"
#: Left operands whose value exists only when data is requested. An unmet constraint on any
#: other operand (the caller's credentials, the date, an unknown operand) refuses the offer.
REQUEST_TIME = frozenset(
    [
        *(
            _ODRL + name
            for name in (
                "purpose",
                "count",
                "elapsedTime",
                "meteredTime",
                "delayPeriod",
                "timeInterval",
                "percentage",
                "absoluteSize",
                "relativeSize",
                "resolution",
                "spatial",
                "spatialCoordinates",
                "fileFormat",
                "deliveryChannel",
                "systemDevice",
                "virtualLocation",
                "event",
            )
        ),
        _AGORA + "entityType",
        _AGORA + "attribute",
        _AGORA + "area",
    ]
)


@dataclass(frozen=True)
class Decision:
    permit: bool
    reason: str
    report: dict[str, Any] | None = None
    #: the DSP termination ``code`` of a refusal (``None``: PolicyDenied)
    code: str | None = None


class OfferDecider(Protocol):
    async def decide(self, offer: dict[str, Any], target: str, caller: Caller) -> Decision: ...


def _evaluator() -> Any | None:
    """``policies``' evaluate function, wherever the package exposes it (it is evolving)."""
    for module, name in (("policies", "evaluate"), ("policies.evaluator", "evaluate")):
        try:
            found = getattr(importlib.import_module(module), name, None)
        except ImportError:
            continue
        if callable(found):
            return found
    return None


class PoliciesDecider:
    """Parse the offer with ``policies`` (a malformed ODRL offer is refused) and evaluate it."""

    async def decide(self, offer: dict[str, Any], target: str, caller: Caller) -> Decision:
        from policies.errors import PoliciesError
        from policies.jsonld import parse_policy

        try:
            policy = parse_policy({**offer, "target": target})
        except PoliciesError as exc:
            return Decision(False, f"the offer is not a valid ODRL policy: {exc}")
        evaluate = _evaluator()
        if evaluate is None:
            return Decision(True, "policy parsed; no evaluator available, identity-only check")
        from policies.world import EvaluationRequest, World

        request = EvaluationRequest.create("use", target=target, assignee=caller.did)
        world = World(claims=list(caller.credentials), consents=consents_of(caller.credentials))
        try:
            report = evaluate(policy, request, world)
        except PoliciesError as exc:
            return Decision(False, f"the offer cannot be evaluated: {exc}")
        as_dict: dict[str, Any] = report.to_dict()
        if report.permitted:
            return Decision(True, "; ".join(report.reasons) or "permit", as_dict)
        unmet = [c for c in _constraints(as_dict) if c.get("state") != "satisfied"]
        if unmet and all(
            c.get("state") == "error" and c.get("left_operand") in REQUEST_TIME for c in unmet
        ):
            # Every unmet constraint lacks a value only a data request supplies (purpose,
            # counts, the requested entities): the PEP decides those per request.
            return Decision(True, "deferred to the data plane: " + "; ".join(report.reasons))
        return Decision(False, "; ".join(report.reasons) or "deny", as_dict)


def _constraints(report: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def walk(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("children"):
                walk(item["children"])
            else:
                out.append(item)

    for rule in report.get("rules", []):
        walk(rule.get("constraints", []))
    return out
