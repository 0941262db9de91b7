"""Plain-language explanations of policies and decisions, for people, not machines.

A resident reading the management pages, or a consumer whose request was refused, should get a
sentence they understand ("denied — this agreement allows 1,000 reads per month and 1,000 were used
by 3 November"), not an ODRL dump.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .actions import NO_ACTION
from .evaluator import counter_window, duty_parameters, duty_prices, is_price, typed_right
from .model import AnyConstraint, Constraint, Duty, LogicalConstraint, LogicalOperator, Policy
from .operands import REGISTRY
from .phrases import WINDOW_PHRASES, op_phrase, show
from .report import (
    ConstraintReport,
    ConsumeResult,
    CounterSpec,
    Decision,
    DutyReport,
    Report,
    Satisfaction,
)
from .vocab import ODRL, short
from .world import World

_VERB_PLURAL = {"use": "uses", "read": "reads", "display": "views", "distribute": "distributions"}


def plural(action: str | None) -> str:
    name = short(action) if action else "use"
    return _VERB_PLURAL.get(name, name + "s" if not name.endswith("s") else name)


def exhausted(spec: CounterSpec, result: ConsumeResult) -> str:
    """'this agreement allows 1,000 reads per month and 1,000 were used by 3 November'."""
    window = f" {WINDOW_PHRASES[spec.window]}" if spec.window else ""
    text = f"this agreement allows {spec.limit:,} {plural(spec.action)}{window}"
    text += f" and {result.used:,} were used"
    if result.updated_at is not None:
        text += f" by {_day(result.updated_at)}"
    return text


def _day(when: datetime) -> str:
    return f"{when.day} {when.strftime('%B')}"


def describe_constraint(c: AnyConstraint) -> str:
    if isinstance(c, LogicalConstraint):
        parts = [describe_constraint(x) for x in c.constraints]
        if c.operator is LogicalOperator.OR:
            return "either " + " or ".join(parts)
        if c.operator is LogicalOperator.XONE:
            return "exactly one of: " + "; ".join(parts)
        if c.operator is LogicalOperator.AND_SEQUENCE:
            return "in this order: " + ", then ".join(parts)
        return " and ".join(parts)
    spec = REGISTRY.get(c.left_operand)
    label = spec.label if spec else f"{short(c.left_operand)} (not understood by this connector)"
    try:
        right: Any = typed_right(c) if c.right_operand is not None else c.right_operand_reference
    except (ValueError, ArithmeticError):
        right = c.right_operand
    if c.left_operand == ODRL + "count" and c.operator in (ODRL + "lteq", ODRL + "lt"):
        window = counter_window(c)
        limit = right if c.operator == ODRL + "lteq" else right - 1
        return f"at most {show(limit)} uses" + (f" {WINDOW_PHRASES[window]}" if window else "")
    return f"{label} {op_phrase(c.operator, condition=True)} {show(right)}"


def _deadline_text(c: AnyConstraint) -> str | None:
    if not isinstance(c, Constraint) or c.operator not in (ODRL + "lt", ODRL + "lteq"):
        return None
    try:
        right = typed_right(c) if c.right_operand is not None else None
    except (ValueError, ArithmeticError):
        return None
    if c.left_operand == ODRL + "dateTime" and right is not None:
        return f"by {show(right)}"
    if c.left_operand == ODRL + "elapsedTime" and right is not None:
        return f"within {show(right)} of the agreement's start"
    return None


def _verb(iri: str) -> str:
    # a rule without an action (only in a Set or Request) governs every action
    return "do anything with" if iri == NO_ACTION else short(iri)


def describe_duty(d: Duty) -> str:
    action = short(d.action.iri)
    params = duty_parameters(d)
    if action == "compensate":
        amount = params.get("payAmount")
        unit = params.get("unit")
        text = f"pay {show(amount)}" if amount is not None else "pay the agreed fee"
        text += f" {_currency(unit)}" if unit else ""
    elif action == "attribute":
        text = "credit the source" + (f" ({short(params['target'])})" if "target" in params else "")
    elif action == "delete":
        text = "delete the data"
    elif action == "inform":
        text = "inform the provider"
    else:
        text = action
    conditions = []
    priced = bool(duty_prices(d))
    for c in d.constraints:
        if priced and is_price(c):
            continue  # the price, already said
        deadline = _deadline_text(c)
        if deadline:
            text += " " + deadline
        else:
            conditions.append(describe_constraint(c))
    if conditions:
        text += " when " + " and ".join(conditions)
    return text


def _currency(unit: str) -> str:
    tail = unit.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1]
    return {"Euro": "EUR", "EUR": "EUR", "USD": "USD", "United_States_dollar": "USD"}.get(
        tail, tail
    )


def explain_policy(policy: Policy) -> str:
    """A paragraph per rule, readable by a non-specialist."""
    kind = {"Set": "Policy", "Offer": "Offer", "Agreement": "Agreement", "Request": "Request"}
    lines = [f"{kind[policy.type.value]} {policy.uid}"]
    if policy.assigner and policy.assigner.uid:
        lines[0] += f" from {policy.assigner.uid}"
    if policy.assignee and policy.assignee.uid:
        lines[0] += f" to {policy.assignee.uid}"
    if policy.target and policy.target.uid:
        lines[0] += f" about {policy.target.uid}"
    for p in policy.permissions:
        line = f"- You may {_verb(p.action.iri)} the data"
        if p.constraints or p.action.refinements:
            cs = (*p.action.refinements, *p.constraints)
            line += " if " + " and ".join(describe_constraint(c) for c in cs)
        lines.append(line + ".")
        for d in p.duties:
            lines.append(f"  In return you must {describe_duty(d)}.")
    for q in policy.prohibitions:
        line = f"- You may not {_verb(q.action.iri)} the data"
        if q.constraints:
            line += " when " + " and ".join(describe_constraint(c) for c in q.constraints)
        lines.append(line + ".")
        for d in q.remedies:
            lines.append(f"  If you do, you must {describe_duty(d)}.")
    for o in policy.obligations:
        lines.append(f"- You must {describe_duty(o)}.")
        for d in o.consequences:
            lines.append(f"  Otherwise you must {describe_duty(d)}.")
    if policy.conflict:
        lines.append(
            {
                "perm": "Where a permission and a prohibition overlap, the permission wins.",
                "prohibit": "Where a permission and a prohibition overlap, the prohibition wins.",
                "invalid": "If a permission and a prohibition overlap, the policy is void.",
            }[policy.conflict.value]
        )
    return "\n".join(lines)


def _first_failure(reports: Iterable[ConstraintReport]) -> ConstraintReport | None:
    for r in reports:
        if r.state is not Satisfaction.SATISFIED:
            if r.children:
                inner = _first_failure(r.children)
                if inner is not None:
                    return inner
            return r
    return None


def _count_sentence(r: ConstraintReport, report: Report, world: World | None) -> str | None:
    if r.left_operand != ODRL + "count" or not isinstance(r.left_value, int):
        return None
    spec = next((c for c in report.counters if c.key == r.path.removeprefix("$.")), None)
    rule = next((x for x in report.rules if r.path.startswith(x.path + ".")), None)
    counters = rule.counters if rule else ()
    spec = spec or next((c for c in counters if c.key == r.path.removeprefix("$.")), None)
    if spec is None:
        return None
    used = r.left_value - 1
    window = f" {WINDOW_PHRASES[spec.window]}" if spec.window else ""
    text = f"this agreement allows {spec.limit:,} {plural(spec.action)}{window}"
    text += f" and {used:,} were used"
    when = world.usage_updated.get(spec.key) if world is not None else None
    if when is not None:
        text += f" by {_day(when)}"
    return text


def explain_report(report: Report, world: World | None = None) -> str:
    """One sentence for the decision, then what is still owed."""
    if report.decision is Decision.PERMIT:
        text = "permitted"
        owed = [d for d in report.pending_duties if isinstance(d, DutyReport)]
        if owed:
            text += " — you must still: " + "; ".join(d.reason for d in owed)
        return text
    if report.decision is Decision.NOT_APPLICABLE:
        return "not applicable — " + (report.reasons[1] if len(report.reasons) > 1 else "no rule")
    for rule in report.rules:
        if rule.kind == "permission" and rule.permitted is False:
            failure = _first_failure(rule.constraints + rule.refinements)
            if failure is not None:
                sentence = _count_sentence(failure, report, world)
                if sentence:
                    return "denied — " + sentence
            blocking = [d for d in rule.duties if d.blocking]
            if failure is None and blocking:
                return "denied — " + blocking[0].reason
    return "denied — " + (report.reasons[0] if report.reasons else "no permission applies")


__all__ = [
    "describe_constraint",
    "describe_duty",
    "exhausted",
    "explain_policy",
    "explain_report",
    "plural",
]
