"""The reference evaluator, after the W3C ODRL Formal Semantics draft.

It favours completeness over speed: every constraint is evaluated (no short-circuit) so the report
shows the whole picture, and right operands are re-read on every call. The compiled fast path
(:mod:`policies.compiler`) must reach the same decision; property tests hold it to that.

Evaluation uses three-valued (Kleene) logic: a constraint is satisfied, not satisfied, or in error
(unknown left operand or operator, missing value, undefined comparison). An error never makes a
permission active, and never makes a prohibition inactive — unknown terms fail closed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from .actions import NO_ACTION, PRE_USE_DUTIES, canonical, covers
from .durations import Duration
from .errors import PaymentError
from .model import (
    AnyConstraint,
    Asset,
    ConflictStrategy,
    Constraint,
    Duty,
    LogicalConstraint,
    LogicalOperator,
    Party,
    Permission,
    Policy,
    Prohibition,
    effective_rules,
)
from .money import Price, currency_code, settle, to_amount
from .operands import REGISTRY, MissingValueError, resolve
from .operators import OPERATORS, OperatorError, apply
from .phrases import WINDOW_PHRASES, constraint_text, show
from .report import (
    Activation,
    ConstraintReport,
    CounterSpec,
    Decision,
    DutyReport,
    DutyState,
    PremiseReport,
    Report,
    RuleReport,
    Satisfaction,
)
from .values import to_python
from .vocab import AGORA, ODRL, WINDOWS, short
from .world import EvaluationRequest, World

SAT, NOT, ERR = Satisfaction.SATISFIED, Satisfaction.NOT_SATISFIED, Satisfaction.ERROR
DEFAULT_CONFLICT = ConflictStrategy.INVALID


def combine_and(states: list[Satisfaction]) -> Satisfaction:
    if NOT in states:
        return NOT
    return ERR if ERR in states else SAT


def combine(op: LogicalOperator, states: list[Satisfaction]) -> Satisfaction:
    """Kleene combination of child states (order-independent, so short-circuiting agrees)."""
    if op in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
        return combine_and(states)
    if op is LogicalOperator.OR:
        if SAT in states:
            return SAT
        return ERR if ERR in states else NOT
    sat = states.count(SAT)
    if sat >= 2:
        return NOT
    if ERR in states:
        return ERR
    return SAT if sat == 1 else NOT


def typed_right(c: Constraint) -> Any:
    """The right operand as comparable Python value(s); raises ValueError on bad lexical forms."""
    spec = REGISTRY.get(c.left_operand)
    hint = c.data_type or (spec.datatype if spec else None)
    r = c.right_operand
    if isinstance(r, tuple):
        return tuple(to_python(v, hint) for v in r)
    assert r is not None
    return to_python(r, hint)


def counter_key(c: Constraint, path: str) -> str:
    return c.uid or path.removeprefix("$.")


def counter_window(c: Constraint) -> str | None:
    if c.unit and c.unit.startswith(AGORA) and c.unit[len(AGORA) :] in WINDOWS:
        return c.unit[len(AGORA) :]
    return None


def counter_spec(c: Constraint, path: str, action: str) -> CounterSpec | None:
    """The counter a ``count lteq N`` / ``count lt N`` constraint needs, if enforceable."""
    if c.left_operand != ODRL + "count" or c.right_operand is None:
        return None
    if c.operator not in (ODRL + "lteq", ODRL + "lt"):
        return None
    try:
        limit = typed_right(c)
    except (ValueError, ArithmeticError):
        return None
    if isinstance(limit, bool) or not isinstance(limit, int | Decimal):
        return None
    limit = int(limit)
    if c.operator == ODRL + "lt":
        limit -= 1
    return CounterSpec(counter_key(c, path), limit, counter_window(c), action)


@dataclass
class _Ctx:
    world: World
    start: datetime | None
    request: EvaluationRequest | None = None
    policy_uid: str | None = None


def eval_constraint(c: AnyConstraint, path: str, ctx: _Ctx) -> ConstraintReport:
    """One constraint's satisfaction, with the reason in words and its ``@id``."""
    report = _eval_constraint(c, path, ctx)
    return replace(report, uid=c.uid) if c.uid else report


def _eval_constraint(c: AnyConstraint, path: str, ctx: _Ctx) -> ConstraintReport:
    if isinstance(c, LogicalConstraint):
        children = tuple(
            eval_constraint(x, f"{path}.{c.operator.value}[{i}]", ctx)
            for i, x in enumerate(c.constraints)
        )
        state = combine(c.operator, [ch.state for ch in children])
        reason = f"{c.operator.value} of {len(children)} constraints is {state.value}"
        return ConstraintReport(path, state, reason, children=children)
    left_name = short(c.left_operand)
    lo, op = c.left_operand, c.operator
    spec = REGISTRY.get(c.left_operand)
    if spec is None:
        return ConstraintReport(
            path,
            ERR,
            f"unknown left operand {left_name}: the rule cannot be relied on",
            left_operand=lo,
            operator=op,
        )
    if c.operator not in OPERATORS:
        return ConstraintReport(
            path, ERR, f"unknown operator {short(c.operator)}", left_operand=lo, operator=op
        )
    if c.right_operand_reference is not None:
        return ConstraintReport(
            path,
            ERR,
            "rightOperandReference is not dereferenced by this engine",
            left_operand=lo,
            operator=op,
        )
    try:
        right = typed_right(c)
    except (ValueError, ArithmeticError) as exc:
        return ConstraintReport(
            path, ERR, f"bad right operand: {exc}", left_operand=lo, operator=op
        )
    text = constraint_text(c, right, spec.label)
    if c.left_operand == ODRL + "count" and counter_window(c):
        text += f" {WINDOW_PHRASES[counter_window(c) or '']}"
    try:
        left = resolve(spec, ctx.world, c, counter_key(c, path), ctx.start)
    except MissingValueError as exc:
        return ConstraintReport(
            path, ERR, f"{text}, but {exc}", right_operand=right, left_operand=lo, operator=op
        )
    try:
        ok = apply(c.operator, left, right, ctx.world, spec.geometry)
    except OperatorError as exc:
        return ConstraintReport(
            path,
            ERR,
            f"{text}: {exc}",
            right_operand=right,
            left_value=left,
            left_operand=lo,
            operator=op,
        )
    shown = show(left if c.left_operand != ODRL + "count" else left - 1)
    if c.left_operand == ODRL + "count":
        reason = f"{text}; {shown} used so far"
    else:
        reason = f"{text}; it is {shown}"
    return ConstraintReport(
        path,
        SAT if ok else NOT,
        reason,
        right_operand=right,
        left_value=left,
        left_operand=lo,
        operator=op,
    )


def _collection_match(
    x: Asset | Party | None,
    ident: str | None,
    member_of: frozenset[str],
    path: str,
    ctx: _Ctx,
    what: str,
) -> tuple[Satisfaction, str, tuple[ConstraintReport, ...]]:
    if x is None:
        return SAT, "", ()
    if x.refinements:
        reps = tuple(
            eval_constraint(r, f"{path}.refinement[{i}]", ctx) for i, r in enumerate(x.refinements)
        )
        state = combine_and([r.state for r in reps])
        if x.source is not None and ident != x.source and x.source not in member_of:
            return NOT, f"the {what} is not drawn from {x.source}", reps
        if state is NOT:
            return NOT, f"the {what} is not in the refined collection", reps
        return state, "", reps
    if ident is None:
        return NOT, f"the request names no {what}", ()
    if ident == x.uid or (x.uid is not None and x.uid in member_of):
        return SAT, "", ()
    return NOT, f"the rule is for {what} {x.uid}, not {ident}", ()


def is_price(c: AnyConstraint) -> bool:
    """A ``payAmount`` constraint: in a compensate duty it is the price, not a condition."""
    return isinstance(c, Constraint) and c.left_operand == ODRL + "payAmount"


def duty_prices(duty: Duty) -> tuple[Price, ...]:
    """The prices a compensate duty asks for, from its constraints (the DSP 2025-1 form) and its
    action refinements (the textbook ODRL form). Empty for an unpriced or non-compensate duty."""
    if canonical(duty.action.iri) != ODRL + "compensate":
        return ()
    out: list[Price] = []
    for c in (*duty.constraints, *duty.action.refinements):
        if not isinstance(c, Constraint) or not is_price(c) or c.right_operand is None:
            continue
        try:
            amount = to_amount(typed_right(c))
        except (ValueError, ArithmeticError, PaymentError):
            continue  # an unreadable amount stays a (failing) condition, see eval_duty
        out.append(Price(c.operator, amount, currency_code(c.unit) if c.unit else None, c.unit))
    return tuple(out)


def _deadline(c: Constraint, ctx: _Ctx) -> datetime | None:
    """The 'by when' of a duty constraint (dateTime/elapsedTime with lt/lteq), else None."""
    if c.operator not in (ODRL + "lt", ODRL + "lteq") or isinstance(c.right_operand, tuple):
        return None
    if c.left_operand == ODRL + "dateTime":
        try:
            value = typed_right(c)
        except ValueError:
            return None
        return value if isinstance(value, datetime) else None
    if c.left_operand == ODRL + "elapsedTime":
        start = ctx.world.agreement_start or ctx.start
        try:
            d = typed_right(c)
        except ValueError:
            return None
        if start is not None and isinstance(d, Duration):
            return d.add_to(start)
    return None


def duty_parameters(duty: Duty) -> dict[str, Any]:
    """What the duty asks for, read from its action refinements (amount, currency, recipient…)
    and, for a compensate duty, from the price constraints of the DSP 2025-1 form."""
    params: dict[str, Any] = {}
    priced = tuple(c for c in duty.constraints if is_price(c)) if duty_prices(duty) else ()
    for r in (*priced, *duty.action.refinements):
        if isinstance(r, Constraint) and r.right_operand is not None:
            try:
                value = typed_right(r)
                params[short(r.left_operand)] = to_amount(value) if is_price(r) else value
            except (ValueError, ArithmeticError):  # PaymentError is a ValueError
                params[short(r.left_operand)] = str(r.right_operand)
            if r.unit:
                params["unit"] = r.unit
    if duty.target is not None and duty.target.uid:
        params["target"] = duty.target.uid
    return params


def duty_state_of(
    key: str,
    uid: str | None,
    cond: Satisfaction,
    deadline: datetime | None,
    prices: tuple[Price, ...],
    payer: str | None,
    payee: str | None,
    ctx: _Ctx,
) -> tuple[DutyState, str]:
    """The deontic state of a duty and why (shared by the reference and compiled paths)."""
    w = ctx.world
    names = {key} | ({uid} if uid else set())
    if names & w.violated:
        return DutyState.VIOLATED, "was already reported violated"
    if prices and w.payments is not None:
        paid, why = settle(
            prices,
            w.payments,
            keys=frozenset(names),
            payer=payer,
            payee=payee,
            agreement=ctx.policy_uid,
            now=w.now,
        )
        if paid:
            return DutyState.FULFILLED, f"was paid ({why})"
        fulfilled = False
        owed_why = f" ({why})"
    else:
        fulfilled = bool(names & w.fulfilled)
        owed_why = ""
    if fulfilled:
        return DutyState.FULFILLED, "was fulfilled"
    if cond is NOT:
        return DutyState.INACTIVE, "is not due: its conditions do not hold"
    if deadline is not None and w.now > deadline:
        return DutyState.VIOLATED, f"was due by {show(deadline)} and was not done{owed_why}"
    due = f" by {show(deadline)}" if deadline is not None else ""
    return DutyState.PENDING, f"is owed{due}{owed_why}"


def with_parties(duty: Duty, rule: Permission) -> Duty:
    """A permission's duty falls on its assignee, in favour of its assigner, unless it names its
    own parties (ODRL: typically the assignee compensates the assigner)."""
    if (duty.assignee or not rule.assignee) and (duty.assigner or not rule.assigner):
        return duty
    return replace(
        duty, assignee=duty.assignee or rule.assignee, assigner=duty.assigner or rule.assigner
    )


def _payer_payee(duty: Duty, ctx: _Ctx) -> tuple[str | None, str | None]:
    payer = duty.assignee.uid if duty.assignee is not None and duty.assignee.uid else None
    if payer is None and ctx.request is not None:
        payer = ctx.request.assignee
    payee = duty.assigner.uid if duty.assigner is not None and duty.assigner.uid else None
    return payer, payee


def eval_duty(duty: Duty, path: str, ctx: _Ctx, allow_consequences: bool = True) -> DutyReport:
    key = duty.uid or path.removeprefix("$.")
    action = short(duty.action.iri)
    prices = duty_prices(duty)
    deadline: datetime | None = None
    conditions: list[ConstraintReport] = []
    for i, c in enumerate(duty.constraints):
        if prices and is_price(c):
            continue
        d = _deadline(c, ctx) if isinstance(c, Constraint) else None
        if d is not None:
            deadline = d if deadline is None else min(deadline, d)
        else:
            conditions.append(eval_constraint(c, f"{path}.constraint[{i}]", ctx))
    cond = combine_and([c.state for c in conditions])
    params = duty_parameters(duty)
    payer, payee = _payer_payee(duty, ctx)
    state, why = duty_state_of(key, duty.uid, cond, deadline, prices, payer, payee, ctx)
    reason = f"{action} {why}"
    consequences: tuple[DutyReport, ...] = ()
    if state is DutyState.VIOLATED and allow_consequences:
        consequences = tuple(
            eval_duty(d, f"{path}.consequence[{i}]", ctx, False)
            for i, d in enumerate(duty.consequences)
        )
    blocking = state is DutyState.VIOLATED or (
        state is DutyState.PENDING and deadline is None and duty.action.iri in PRE_USE_DUTIES
    )
    if blocking and state is DutyState.PENDING:
        reason += " before use"
    return DutyReport(
        path,
        key,
        action,
        state,
        reason,
        deadline,
        params,
        blocking,
        tuple(conditions),
        consequences,
    )


def _premise(
    x: Asset | Party | None,
    ident: str | None,
    member_of: frozenset[str],
    path: str,
    ctx: _Ctx,
    kind: str,
    what: str,
) -> PremiseReport | None:
    if x is None:
        return None
    state, reason, reps = _collection_match(x, ident, member_of, path, ctx, what)
    if not reason:
        reason = f"the {what} matches" if state is SAT else f"the {what} could not be checked"
    return PremiseReport(kind, state, reason, reps)


def _eval_rule(
    rule: Permission | Prohibition | Duty,
    kind: str,
    path: str,
    request: EvaluationRequest,
    ctx: _Ctx,
) -> tuple[RuleReport, Satisfaction]:
    """Every premise and constraint of one rule, none skipped (the report is complete)."""
    missing: tuple[str, ...] = ()
    premises: list[PremiseReport] = []
    if rule.action.iri == NO_ACTION:
        action = "any action"
        missing = ("action",)
    else:
        action = short(rule.action.iri)
        if covers(rule.action.iri, request.action):
            premises.append(PremiseReport("action", SAT, f"{short(request.action)} is {action}"))
        else:
            why = f"the rule is about {action}, not {short(request.action)}"
            premises.append(PremiseReport("action", NOT, why))
    for p in (
        _premise(
            rule.target,
            request.target,
            request.target_part_of,
            f"{path}.target",
            ctx,
            "target",
            "asset",
        ),
        _premise(
            rule.assignee,
            request.assignee,
            request.assignee_member_of,
            f"{path}.assignee",
            ctx,
            "assignee",
            "party",
        ),
    ):
        if p is not None:
            premises.append(p)
    collection_reps = tuple(r for p in premises for r in p.refinements)
    action_reps = tuple(
        eval_constraint(r, f"{path}.action.refinement[{i}]", ctx)
        for i, r in enumerate(rule.action.refinements)
    )
    cons = tuple(
        eval_constraint(c, f"{path}.constraint[{i}]", ctx) for i, c in enumerate(rule.constraints)
    )
    refined = combine_and([r.state for r in action_reps])
    unmatched = [p for p in premises if p.state is NOT]
    base = RuleReport(
        path,
        kind,
        action,
        Activation.NOT_APPLICABLE,
        unmatched[0].reason if unmatched else "",
        cons,
        collection_reps + action_reps,
        premises=tuple(premises),
        missing=missing,
        uid=rule.uid,
        refined=refined,
    )
    if unmatched:
        return base, NOT
    state = combine_and([*(p.state for p in premises), *(c.state for c in cons)])
    reason = _failure_reason(cons + collection_reps) if state is not SAT else "active"
    activation = Activation.ACTIVE if state is SAT else Activation.INACTIVE
    return replace(base, activation=activation, reason=reason), state


def _failure_reason(reports: tuple[ConstraintReport, ...]) -> str:
    for r in reports:
        if r.state is not SAT:
            if r.children:
                inner = _failure_reason(r.children)
                return inner if inner else r.reason
            return r.reason
    return ""


def _counters(rule: Permission, path: str) -> tuple[CounterSpec, ...]:
    out: list[CounterSpec] = []

    def walk(cs: tuple[AnyConstraint, ...], prefix: str, key: str) -> None:
        for i, c in enumerate(cs):
            p = f"{prefix}.{key}[{i}]"
            if isinstance(c, LogicalConstraint):
                if c.operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
                    walk(c.constraints, p, c.operator.value)
            else:
                spec = counter_spec(c, p, rule.action.iri)
                if spec is not None:
                    out.append(spec)

    walk(rule.constraints, path, "constraint")
    return tuple(out)


def evaluate(policy: Policy, request: EvaluationRequest, world: World) -> Report:
    """Evaluate ``request`` against ``policy`` in ``world`` and report everything.

    ``policy`` must have its ``inheritFrom`` resolved (see :func:`policies.inherit.resolve`).
    """
    pol = effective_rules(policy)
    ctx = _Ctx(world, policy.timestamp, request, policy.uid)
    rules: list[RuleReport] = []
    permitted: list[RuleReport] = []
    denied: list[RuleReport] = []
    prohibiting: list[RuleReport] = []
    pending: list[DutyReport] = []
    for i, p in enumerate(pol.permissions):
        path = f"$.permission[{i}]"
        rep, state = _eval_rule(p, "permission", path, request, ctx)
        duties = tuple(
            eval_duty(with_parties(d, p), f"{path}.duty[{j}]", ctx) for j, d in enumerate(p.duties)
        )
        if rep.activation is Activation.NOT_APPLICABLE:
            # reported (every duty's state), but a rule that does not apply owes nothing here
            rules.append(replace(rep, duties=duties))
            continue
        blocked = [d for d in duties if d.blocking]
        ok = state is SAT and rep.refined is SAT and not blocked
        if state is not SAT:
            reason = rep.reason
        elif rep.refined is not SAT:
            action_reps = tuple(r for r in rep.refinements if ".action.refinement[" in r.path)
            reason = "the action as refined does not cover this request: " + _failure_reason(
                action_reps
            )
        else:
            reason = blocked[0].reason if blocked else "permits"
        rep = replace(rep, reason=reason, duties=duties, permitted=ok, counters=_counters(p, path))
        rules.append(rep)
        (permitted if ok else denied).append(rep)
    for i, q in enumerate(pol.prohibitions):
        path = f"$.prohibition[{i}]"
        rep, state = _eval_rule(q, "prohibition", path, request, ctx)
        remedies = tuple(
            eval_duty(d, f"{path}.remedy[{j}]", ctx, False) for j, d in enumerate(q.remedies)
        )
        if rep.activation is Activation.NOT_APPLICABLE:
            rules.append(replace(rep, duties=remedies))
            continue
        active = state is not NOT  # an error fails closed: the prohibition holds
        applies = active and rep.refined is not NOT
        if applies:
            reason = f"{rep.action} is prohibited" + (f" ({rep.reason})" if state is ERR else "")
        elif active:
            reason = "the prohibited action as refined does not cover this request"
        else:
            reason = rep.reason
        rep = replace(
            rep,
            activation=Activation.ACTIVE if active else Activation.INACTIVE,
            reason=reason,
            duties=remedies,
        )
        rules.append(rep)
        if applies:
            prohibiting.append(rep)
    obligations = tuple(
        eval_duty(o, f"$.obligation[{i}]", ctx) for i, o in enumerate(pol.obligations)
    )
    for o in obligations:
        if o.state in (DutyState.PENDING, DutyState.VIOLATED):
            pending.append(o)
        pending.extend(c for c in o.consequences if c.state is DutyState.PENDING)
    conflict = pol.conflict or DEFAULT_CONFLICT

    def report(decision: Decision, reasons: list[str], by: RuleReport | None = None) -> Report:
        duties = [d for d in (by.duties if by else ()) if d.state is DutyState.PENDING]
        return Report(
            pol.uid,
            decision,
            tuple(reasons),
            tuple(rules),
            conflict.value,
            by.counters if by else (),
            tuple(duties + pending),
            obligations,
            by.path if by else None,
        )

    if not (permitted or denied or prohibiting):
        why = [r.reason for r in rules if r.reason]
        return report(Decision.NOT_APPLICABLE, ["no rule applies to this request", *why[:3]])
    if permitted and prohibiting:
        if conflict is ConflictStrategy.PERM:
            return report(
                Decision.PERMIT, ["permitted: the policy lets permissions win"], permitted[0]
            )
        if conflict is ConflictStrategy.PROHIBIT:
            return report(
                Decision.DENY, [prohibiting[0].reason, "the policy lets prohibitions win"]
            )
        return report(
            Decision.DENY,
            ["a permission and a prohibition conflict and the conflict strategy is 'invalid'"],
        )
    if permitted:
        return report(Decision.PERMIT, ["permitted by " + permitted[0].path], permitted[0])
    if prohibiting:
        return report(Decision.DENY, [r.reason for r in prohibiting])
    return report(Decision.DENY, [r.reason for r in denied])
