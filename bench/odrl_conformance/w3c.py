"""The examples of the W3C ODRL Formal Semantics draft (w3c/odrl, formal-semantics/examples).

Each example folder holds a policy and, per case, an evaluation request, optionally a state of
the world (payment events) and the expected compliance report. The report is compared on what
the evaluator decides: every rule's activation and control state (Permit/Deny), every constraint
or refinement report's satisfaction (by the constraint's ``@id``), every condition's activation
and deontic state, and the performance of its action.

Some examples are defective as written; each defect is named in :data:`DEFECTS` and the case is
run a second time with the defect read as evidently meant. The figures say both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from policies import EvaluationRequest, Payment, World, compile_policy, evaluate, parse_policy
from policies.model import Policy
from policies.operands import LeftOperand, register
from policies.report import Decision, DutyState, Report, Satisfaction
from policies.values import parse_datetime

SOTW_NOW = "sotw:CurrentXSDDateTime"
# The draft's C2 example constrains ex:dayOfWeek, an operand no vocabulary defines, under a prefix
# its policy's @context does not declare (so the IRI stays "ex:dayOfWeek"). As a profile operand
# it is the weekday of the evaluation time, which the runner states in the world.
DAY_OF_WEEK = "ex:dayOfWeek"
register(LeftOperand(DAY_OF_WEEK, "the day of the week"))

#: name -> what is wrong as written (the case is then also run as evidently meant)
DEFECTS: dict[str, str] = {
    "party": "the request's evaluatedParty is http://example.com/party/billie1, but the policy's "
    "assignee (and the payment's payer) is .../billie",
    "value-as-id": "the request parameter's value is written as an @id ({'@id': '1000'}), "
    "not a literal, and its describesFeature names the unit (Dots_per_inch), not the left "
    "operand (resolution)",
    "payment-date": "the payment's paymentDate '2025-07-23 00:00:00' is not an xsd:dateTime "
    "(a space instead of 'T')",
    "activation-value": "the condition report's activationState is report:Satisfied, which is a "
    "satisfaction state, not an activation state (read as Active)",
    "undefined-prefix": "the policy's leftOperand ex:dayOfWeek uses a prefix its @context does "
    "not define, for an operand no vocabulary defines (read as the weekday of the evaluation "
    "time)",
}


@dataclass
class Outcome:
    case: str
    passed: bool
    agree: bool
    detail: str = ""
    defect: str = ""
    as_written: bool = False  # passes without reading any defect as meant


def _local(v: Any) -> str:
    s = v["@id"] if isinstance(v, dict) else str(v)
    return s.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def _expected(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"rules": {}, "constraints": {}, "conditions": {}, "actions": {}}
    for value in report.values():
        if not isinstance(value, dict) or "@type" not in value:
            continue
        kind = _local(value["@type"])
        if kind == "ruleReport":
            out["rules"][value["report:rule"]] = (
                _local(value["report:activationState"]),
                _local(value["report:controlState"]),
            )
        elif kind == "ConstraintReport":
            out["constraints"][value["report:constraint"]] = _local(
                value["report:satisfactionState"]
            )
        elif kind == "ConditionReport":
            cid = value.get("report:condition") or value.get("report:constraint")
            out["conditions"][cid] = (
                _local(value["report:activationState"]),
                _local(value["report:deonticState"]),
            )
        elif kind == "ActionReport":
            out["actions"][value["report:action"]] = _local(value["report:performanceState"])
    return out


def _sat(s: Satisfaction) -> str:
    return "Satisfied" if s is Satisfaction.SATISFIED else "Not-Satisfied"


def _ours(policy: Policy, report: Report, expected: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"rules": {}, "constraints": {}, "conditions": {}, "actions": {}}
    by_uid = {r.uid: r for r in report.rules if r.uid}
    for uid, rule in by_uid.items():
        conditions_hold = all(
            d.state in (DutyState.FULFILLED, DutyState.INACTIVE) for d in rule.duties
        )
        active = rule.activation.value == "active" and conditions_hold
        control = "Permit" if report.decision is Decision.PERMIT and rule.permitted else "Deny"
        out["rules"][uid] = ("Active" if active else "Inactive", control)
        for c in (*rule.constraints, *rule.refinements):
            if c.uid:
                out["constraints"][c.uid] = _sat(c.state)
        for d in rule.duties:
            state = "Inactive" if d.state is DutyState.INACTIVE else "Active"
            deontic = {DutyState.FULFILLED: "Fulfilled", DutyState.VIOLATED: "Violated"}
            out["conditions"][d.key] = (state, deontic.get(d.state, "Not-set"))
            for c in d.constraints:
                if c.uid:
                    out["constraints"][c.uid] = _sat(c.state)
    # Compare only what the expected report states.
    return {k: {i: v for i, v in out[k].items() if i in expected[k]} for k in out}


def _policy_action_ids(doc: dict[str, Any]) -> dict[str, str]:
    """duty @id -> the @id of its action node (the library keeps no ids for action nodes)."""
    out: dict[str, str] = {}
    for p in doc.get("permission", []):
        for d in p.get("duty", []):
            actions = d.get("action")
            for a in actions if isinstance(actions, list) else [actions]:
                if isinstance(a, dict) and "@id" in a and "@id" in d:
                    out[d["@id"]] = a["@id"]
    return out


def _request(
    doc: dict[str, Any], fix: set[str]
) -> tuple[EvaluationRequest, dict[str, Any], datetime | None]:
    party = doc.get("evaluatedParty")
    if party == "http://example.com/party/billie1" and "party" in fix:
        party = "http://example.com/party/billie"
    values: dict[str, Any] = {}
    now = None
    params = doc.get("requestParameters", [])
    for p in params if isinstance(params, list) else [params]:
        value = p.get("value", {})
        feature = p.get("describesFeature")
        if feature == SOTW_NOW:
            now = parse_datetime(value["@value"])
        elif "@id" in value and "value-as-id" in fix and feature and "Dots_per_inch" in feature:
            values["resolution"] = int(value["@id"])
    action = str(doc["evaluatedAction"]).removeprefix("odrl:")
    return EvaluationRequest.create(action, doc.get("evaluatedTarget"), party), values, now


def _payments(doc: dict[str, Any] | None, fix: set[str]) -> list[Payment]:
    if doc is None:
        return []
    ctx = doc.get("context", [])
    out = []
    for c in ctx if isinstance(ctx, list) else [ctx]:
        if _local(c.get("@type", "")) != "Payment":
            continue
        when = c["pay:paymentDate"]["@value"]
        if "payment-date" in fix and " " in when:
            when = when.replace(" ", "T")
        out.append(
            Payment(
                amount=c["pay:netAmount"]["@value"],
                currency=c["pay:currency"],
                payer=c["pay:payer"],
                payee=c.get("pay:payee"),
                duty=c.get("conditionId"),
                at=parse_datetime(when),
                reference=c.get("pay:reference"),
            )
        )
    return out


def _defects(
    request: dict[str, Any], state: dict[str, Any] | None, report: dict[str, Any]
) -> set[str]:
    found = set()
    if request.get("evaluatedParty") == "http://example.com/party/billie1":
        found.add("party")
    params = request.get("requestParameters", {})
    for p in params if isinstance(params, list) else [params]:
        if "@id" in p.get("value", {}):
            found.add("value-as-id")
    for c in (
        (state or {}).get("context", [])
        if isinstance((state or {}).get("context"), list)
        else [(state or {}).get("context") or {}]
    ):
        if " " in str(c.get("pay:paymentDate", {}).get("@value", "")):
            found.add("payment-date")
    for v in report.values():
        if isinstance(v, dict) and v.get("report:activationState") == "report:Satisfied":
            found.add("activation-value")
    return found


def _policy_defects(doc: dict[str, Any]) -> set[str]:
    return {"undefined-prefix"} if DAY_OF_WEEK in json.dumps(doc) else set()


def run(examples: Path) -> list[Outcome]:
    out = []
    for policy_file in sorted(examples.glob("*/*/policy*.json")):
        folder = policy_file.parent
        cases = sorted(p for p in folder.iterdir() if p.is_dir())
        if not cases:
            out.append(
                Outcome(
                    folder.name,
                    False,
                    True,
                    "no evaluation request or expected report",
                    "incomplete: the example has a policy only",
                )
            )
            continue
        doc = json.loads(policy_file.read_text())
        for case in cases:
            out.append(_case(case, doc))
    return out


def _case(case: Path, policy_doc: dict[str, Any]) -> Outcome:
    request_doc = json.loads(next(case.glob("evaluationrequest*.json")).read_text())
    report_doc = json.loads(next(case.glob("compliancereport*.json")).read_text())
    state_file = next(case.glob("state*.json"), None)
    state_doc = json.loads(state_file.read_text()) if state_file else None
    defects = _defects(request_doc, state_doc, report_doc) | _policy_defects(policy_doc)
    passed, agree, detail = _evaluate(policy_doc, request_doc, state_doc, report_doc, defects)
    as_written = not defects or _evaluate(policy_doc, request_doc, state_doc, report_doc, set())[0]
    return Outcome(
        case.name,
        passed,
        agree,
        detail,
        "; ".join(DEFECTS[d] for d in sorted(defects)),
        as_written,
    )


def _evaluate(
    policy_doc: dict[str, Any],
    request_doc: dict[str, Any],
    state_doc: dict[str, Any] | None,
    report_doc: dict[str, Any],
    fix: set[str],
) -> tuple[bool, bool, str]:
    expected = _expected(report_doc)
    if "activation-value" in fix:
        expected["conditions"] = {
            k: ("Active" if a == "Satisfied" else a, d)
            for k, (a, d) in expected["conditions"].items()
        }
    policy = parse_policy(policy_doc)
    request, values, now = _request(request_doc, fix)
    if now is not None and "undefined-prefix" in fix:
        values[DAY_OF_WEEK] = now.strftime("%A")
    try:
        payments = _payments(state_doc, fix)
    except ValueError as exc:
        return False, True, f"the state cannot be read: {exc}"
    world = World(now=now, values=values, payments=payments)
    report = evaluate(policy, request, world)
    agree = compile_policy(policy).decide(request, world).decision is report.decision
    ours = _ours(policy, report, expected)
    ours["actions"] = _actions(policy_doc, report, expected)
    passed = ours == expected and agree
    return passed, agree, "" if passed else f"expected {expected} got {ours} (agree={agree})"


def _actions(
    policy_doc: dict[str, Any], report: Report, expected: dict[str, Any]
) -> dict[str, str]:
    ids = _policy_action_ids(policy_doc)
    out = {}
    for rule in report.rules:
        for d in rule.duties:
            aid = ids.get(d.key)
            if aid is not None and aid in expected["actions"]:
                out[aid] = "Performed" if d.state is DutyState.FULFILLED else "Unperformed"
    return out
