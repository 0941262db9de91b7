"""Compile an agreement once into a fast decision function.

A compiled policy closes over pre-parsed, typed right operands and pre-computed action/target/party
matchers, so a request costs a handful of dictionary lookups and comparisons — no JSON-LD, no
re-parsing. It reaches the same decision as :func:`policies.evaluator.evaluate` (the property tests
check this); for the full report behind a denial call :meth:`CompiledPolicy.explain`.

Where a fast comparison is not obviously equivalent to the reference semantics (unusual value
types, taxonomies, geometry) the closure falls back to the shared operator functions.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from .actions import NO_ACTION, PRE_USE_DUTIES, covered_by
from .durations import Duration
from .evaluator import (
    DEFAULT_CONFLICT,
    counter_key,
    duty_prices,
    evaluate,
    is_price,
    typed_right,
    with_parties,
)
from .evaluator import _counters as rule_counters
from .explain import explain_report
from .model import (
    AnyConstraint,
    Asset,
    ConflictStrategy,
    Constraint,
    Duty,
    LogicalConstraint,
    LogicalOperator,
    Party,
    Policy,
    effective_rules,
)
from .money import settle
from .narrowing import Narrowing, merge_narrowings, narrowing_of
from .operands import REGISTRY, MissingValueError, resolve
from .operators import OPERATORS, OperatorError, apply, to_geometry
from .report import CounterSpec, Decision, Report
from .vocab import ODRL, normalize_iri
from .world import EvaluationRequest, World

Check = Callable[[World], bool | None]
Match = Callable[[EvaluationRequest, World], bool | None]
_MISSING: Any = object()
NA: Any = object()  # "this rule does not apply to the request"
_NUMERIC = (int, Decimal, float)


@dataclass(frozen=True, slots=True)
class PendingDuty:
    """A duty owed for a permitted request: its key (uid or path), action IRI and deadline."""

    key: str
    action: str
    deadline: datetime | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of one compiled decision.

    ``counters`` must be consumed (see :func:`policies.usage.authorize`) before answering;
    ``pending_duties`` are duties the connector owes (e.g. attribution, deletion by a deadline).
    """

    decision: Decision
    rule: str | None
    reason: str
    counters: tuple[CounterSpec, ...] = ()
    pending_duties: tuple[PendingDuty, ...] = ()

    @property
    def permitted(self) -> bool:
        return self.decision is Decision.PERMIT


def _always_none(w: World) -> bool | None:
    return None


def _cmp_fn(name: str) -> Callable[[Any, Any], bool] | None:
    return {"gt": operator.gt, "gteq": operator.ge, "lt": operator.lt, "lteq": operator.le}.get(
        name
    )


def compile_constraint(c: AnyConstraint, path: str, start: datetime | None) -> Check:
    """A closure ``world -> True | False | None`` (None: could not evaluate)."""
    if isinstance(c, LogicalConstraint):
        return _compile_logical(c, path, start)
    spec = REGISTRY.get(c.left_operand)
    if spec is None or c.operator not in OPERATORS or c.right_operand_reference is not None:
        return _always_none
    try:
        right = typed_right(c)
    except (ValueError, ArithmeticError):
        return _always_none
    op = c.operator
    name = op[len(ODRL) :]
    src = spec.source
    key = spec.iri
    geometry = spec.geometry
    if geometry:
        try:
            right = to_geometry(right)
        except (OperatorError, ValueError):
            return _always_none

    def generic(w: World, left: Any) -> bool | None:
        try:
            return apply(op, left, right, w, geometry)
        except OperatorError:
            return None

    cmp = _cmp_fn(name)
    if src == "elapsed" and cmp is not None and isinstance(right, Duration):
        default_end = right.add_to(start) if start is not None else None
        duration = right

        def elapsed_check(w: World) -> bool | None:
            s = w.agreement_start
            end = default_end if s is None else duration.add_to(s)
            if end is None:
                return None
            return cmp(w.now, end)

        return elapsed_check

    if src == "now" and cmp is not None and type(right) is datetime:
        now_right = right

        def now_check(w: World) -> bool | None:
            return cmp(w.now, now_right)

        return now_check

    if src == "count":
        ckey = counter_key(c, path)
        if cmp is not None and isinstance(right, int) and not isinstance(right, bool):
            count_right = right

            def count_check(w: World) -> bool | None:
                return cmp(w.usage.get(ckey, 0) + 1, count_right)

            return count_check

        def count_generic(w: World) -> bool | None:
            return generic(w, w.usage.get(ckey, 0) + 1)

        return count_generic

    if src != "value":

        def resolved(w: World) -> bool | None:
            try:
                left = resolve(spec, w, c, "", start)
            except MissingValueError:
                return None
            return generic(w, left)

        return resolved

    if geometry:

        def geo(w: World) -> bool | None:
            v = w.values.get(key, _MISSING)
            return None if v is _MISSING else generic(w, v)

        return geo

    if cmp is not None and (type(right) in _NUMERIC or type(right) is datetime):
        fast_types = _NUMERIC if type(right) in _NUMERIC else (datetime,)
        ord_right = right

        def ordered(w: World) -> bool | None:
            v = w.values.get(key, _MISSING)
            if v is _MISSING:
                return None
            if type(v) in fast_types:
                return cmp(v, ord_right)
            return generic(w, v)

        return ordered

    if name in ("eq", "neq") and type(right) is str:
        eq_right = right
        positive = name == "eq"

        def eq(w: World) -> bool | None:
            v = w.values.get(key, _MISSING)
            if v is _MISSING:
                return None
            if type(v) is str:
                return (v == eq_right) is positive
            return generic(w, v)

        return eq

    if name in ("isAnyOf", "isNoneOf", "isPartOf") and (
        type(right) is str or (isinstance(right, tuple) and all(type(x) is str for x in right))
    ):
        # a single right value is the one-element set (as the operators read it)
        members = frozenset((right,) if type(right) is str else right)
        negate = name == "isNoneOf"
        part_of = name == "isPartOf"

        def in_set(w: World) -> bool | None:
            v = w.values.get(key, _MISSING)
            if v is _MISSING:
                return None
            if not (part_of and w.broader):  # no taxonomy to look up: plain membership
                if type(v) is str:
                    return (v in members) is not negate
                if type(v) is tuple and all(type(x) is str for x in v):
                    # a multi-valued operand (e.g. the entity types a request names)
                    if part_of:
                        return all(x in members for x in v)
                    return any(x in members for x in v) is not negate
            return generic(w, v)

        return in_set

    def plain(w: World) -> bool | None:
        v = w.values.get(key, _MISSING)
        return None if v is _MISSING else generic(w, v)

    return plain


def _compile_logical(c: LogicalConstraint, path: str, start: datetime | None) -> Check:
    kids = tuple(
        compile_constraint(x, f"{path}.{c.operator.value}[{i}]", start)
        for i, x in enumerate(c.constraints)
    )
    if c.operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
        return conjunction(kids)
    if c.operator is LogicalOperator.OR:

        def any_of(w: World) -> bool | None:
            err = False
            for k in kids:
                r = k(w)
                if r is True:
                    return True
                if r is None:
                    err = True
            return None if err else False

        return any_of

    def xone(w: World) -> bool | None:
        sat = 0
        err = False
        for k in kids:
            r = k(w)
            if r is True:
                sat += 1
                if sat >= 2:
                    return False
            elif r is None:
                err = True
        if err:
            return None
        return sat == 1

    return xone


def conjunction(kids: tuple[Check, ...]) -> Check:
    """Kleene AND; specialised for small arities because this is the hot loop."""
    if not kids:
        return lambda w: True
    if len(kids) == 1:
        return kids[0]

    def all_of(w: World) -> bool | None:
        err = False
        for k in kids:
            r = k(w)
            if r is not True:
                if r is False:
                    return False
                err = True
        return None if err else True

    return all_of


def _compile_collection(
    x: Asset | Party | None, path: str, start: datetime | None, is_target: bool
) -> Match | None:
    if x is None:
        return None
    if x.refinements:
        check = conjunction(
            tuple(
                compile_constraint(r, f"{path}.refinement[{i}]", start)
                for i, r in enumerate(x.refinements)
            )
        )
        source = x.source

        def refined(req: EvaluationRequest, w: World) -> bool | None:
            if source is not None:
                ident = req.target if is_target else req.assignee
                member_of = req.target_part_of if is_target else req.assignee_member_of
                if ident != source and source not in member_of:
                    return False
            return check(w)

        return refined
    uid = x.uid

    if is_target:

        def target(req: EvaluationRequest, w: World) -> bool | None:
            t = req.target
            return t is not None and (t == uid or uid in req.target_part_of)

        return target

    def party(req: EvaluationRequest, w: World) -> bool | None:
        a = req.assignee
        return a is not None and (a == uid or uid in req.assignee_member_of)

    return party


class _Duty:
    __slots__ = (
        "action",
        "conditions",
        "durations",
        "fixed",
        "key",
        "names",
        "payee",
        "payer",
        "policy_uid",
        "pre_use",
        "prices",
        "start",
        "uid",
    )

    def __init__(self, duty: Duty, path: str, start: datetime | None, policy_uid: str) -> None:
        self.key = duty.uid or path.removeprefix("$.")
        self.uid = duty.uid
        self.names = frozenset({self.key} | ({duty.uid} if duty.uid else set()))
        self.action = duty.action.iri
        self.start = start
        self.policy_uid = policy_uid
        self.prices = duty_prices(duty)
        self.payer = duty.assignee.uid if duty.assignee is not None else None
        self.payee = duty.assigner.uid if duty.assigner is not None else None
        self.fixed: datetime | None = None  # earliest dateTime deadline
        self.durations: list[Duration] = []  # elapsedTime deadlines, anchored at the start
        conds: list[Check] = []
        for i, c in enumerate(duty.constraints):
            if self.prices and is_price(c):
                continue  # the price is settled by payments, it is not a condition
            if (
                isinstance(c, Constraint)
                and c.operator in (ODRL + "lt", ODRL + "lteq")
                and not isinstance(c.right_operand, tuple)
                and c.left_operand in (ODRL + "dateTime", ODRL + "elapsedTime")
            ):
                try:
                    value = typed_right(c)
                except ValueError:
                    value = None
                if c.left_operand == ODRL + "dateTime" and isinstance(value, datetime):
                    self.fixed = value if self.fixed is None else min(self.fixed, value)
                    continue
                if c.left_operand == ODRL + "elapsedTime" and isinstance(value, Duration):
                    self.durations.append(value)
                    continue
            conds.append(compile_constraint(c, f"{path}.constraint[{i}]", start))
        self.conditions = conjunction(tuple(conds))
        self.pre_use = duty.action.iri in PRE_USE_DUTIES

    def deadline(self, w: World) -> datetime | None:
        deadline = self.fixed
        start = w.agreement_start or self.start
        if start is not None:
            for d in self.durations:
                due = d.add_to(start)
                deadline = due if deadline is None else min(deadline, due)
        # With no start known an elapsedTime deadline cannot be placed; like the reference
        # evaluator we then treat it as an unevaluable condition, which leaves the duty owed.
        return deadline

    def state(self, w: World, req: EvaluationRequest) -> tuple[str, bool, datetime | None]:
        """(state, blocking, deadline) with the same rules as the reference evaluator."""
        if w.violated and self.names & w.violated:
            return "violated", True, None
        if self.prices and w.payments is not None:
            paid, _ = settle(
                self.prices,
                w.payments,
                keys=self.names,
                payer=self.payer or req.assignee,
                payee=self.payee,
                agreement=self.policy_uid,
                now=w.now,
            )
            if paid:
                return "fulfilled", False, None
        elif self.key in w.fulfilled or (self.uid is not None and self.uid in w.fulfilled):
            return "fulfilled", False, None
        if self.conditions(w) is False:
            return "inactive", False, None
        deadline = self.deadline(w)
        if deadline is not None and w.now > deadline:
            return "violated", True, deadline
        return "pending", deadline is None and self.pre_use, deadline


class _Rule:
    __slots__ = ("actions", "assignee", "check", "counters", "duties", "path", "permit", "target")

    def __init__(
        self,
        path: str,
        rule: Any,
        start: datetime | None,
        counters: tuple[CounterSpec, ...] = (),
        policy_uid: str = "",
    ) -> None:
        self.path = path
        # None: the rule names no action and governs every requested action
        self.actions = None if rule.action.iri == NO_ACTION else covered_by(rule.action.iri)
        self.target = _compile_collection(rule.target, f"{path}.target", start, True)
        self.assignee = _compile_collection(rule.assignee, f"{path}.assignee", start, False)
        checks = [
            compile_constraint(r, f"{path}.action.refinement[{i}]", start)
            for i, r in enumerate(rule.action.refinements)
        ]
        checks += [
            compile_constraint(c, f"{path}.constraint[{i}]", start)
            for i, c in enumerate(rule.constraints)
        ]
        self.check = conjunction(tuple(checks))
        self.duties = tuple(
            _Duty(with_parties(d, rule), f"{path}.duty[{j}]", start, policy_uid)
            for j, d in enumerate(getattr(rule, "duties", ()))
        )
        self.counters = counters
        self.permit = Verdict(Decision.PERMIT, path, "permitted by " + path, counters)

    def state(self, req: EvaluationRequest, w: World) -> object:
        """``NA`` when the rule does not apply; else the Kleene activation state."""
        if self.actions is not None and req.action not in self.actions:
            return NA
        err = False
        if self.target is not None:
            m = self.target(req, w)
            if m is False:
                return NA
            err = m is None
        if self.assignee is not None:
            m = self.assignee(req, w)
            if m is False:
                return NA
            err = err or m is None
        r = self.check(w)
        if r is False:
            return False
        return None if (err or r is None) else True


class CompiledPolicy:
    """An agreement compiled for the enforcement point.

    ``decide(request, world)`` is the hot path. ``narrowing_for(action)`` tells the NGSI-LD
    enforcement point how to narrow a query (entity types, attributes, area, time window, counters)
    before it is answered.
    """

    __slots__ = (
        "_perms",
        "_prohibs",
        "conflict",
        "narrowings",
        "operand_sources",
        "policy",
        "start",
        "uid",
    )

    def __init__(self, policy: Policy) -> None:
        pol = effective_rules(policy)
        self.policy = policy
        self.uid = policy.uid
        self.start = policy.timestamp
        self.conflict = pol.conflict or DEFAULT_CONFLICT
        self._perms = tuple(
            _Rule(
                f"$.permission[{i}]",
                p,
                self.start,
                rule_counters(p, f"$.permission[{i}]"),
                policy.uid,
            )
            for i, p in enumerate(pol.permissions)
        )
        self._prohibs = tuple(
            _Rule(f"$.prohibition[{i}]", q, self.start) for i, q in enumerate(pol.prohibitions)
        )
        self.narrowings: tuple[Narrowing, ...] = tuple(
            narrowing_of(p, f"$.permission[{i}]", self.start) for i, p in enumerate(pol.permissions)
        )
        #: where the policy's constraints take their left operands from ("value", "now",
        #: "elapsed", "count", "claim", …): a caller may reuse a decision for equal request
        #: values when none of them reads the clock or the caller's credentials
        self.operand_sources: frozenset[str] = operand_sources(policy)

    @property
    def clock_free(self) -> bool:
        """True when a decision depends only on the request and ``world.values`` (and on the
        usage counts, which an enforcement point that consumes counters itself leaves empty):
        equal inputs then give an equal verdict at any time."""
        return self.operand_sources <= {"value", "count"}

    @property
    def counters(self) -> tuple[CounterSpec, ...]:
        """Every enforceable usage counter of the agreement."""
        return tuple(c for p in self._perms for c in p.counters)

    def narrowing_for(self, action: str) -> Narrowing | None:
        """What a request for ``action`` may at most see (None: no permission covers it)."""
        iri = normalize_iri(action)
        matching = [
            n
            for n, r in zip(self.narrowings, self._perms, strict=True)
            if r.actions is None or iri in r.actions
        ]
        return merge_narrowings(matching) if matching else None

    def decide(self, request: EvaluationRequest, world: World) -> Verdict:
        """Permit, deny or not-applicable for one request, without building a report."""
        permitted: _Rule | None = None
        pending: list[PendingDuty] = []
        applicable = False
        blocked: str | None = None
        for r in self._perms:
            s = r.state(request, world)
            if s is NA:
                continue
            applicable = True
            if s is not True:
                continue
            if r.duties:
                pend: list[PendingDuty] = []
                block = None
                for d in r.duties:
                    st, b, due = d.state(world, request)
                    if b:
                        block = d.key
                        break
                    if st == "pending":
                        pend.append(PendingDuty(d.key, d.action, due))
                if block is not None:
                    blocked = blocked or block
                    continue
                pending = pend
            permitted = r
            break
        if permitted is not None and self.conflict is ConflictStrategy.PERM:
            return self._permit(permitted, pending)
        prohibited: _Rule | None = None
        for q in self._prohibs:
            s = q.state(request, world)
            if s is NA or s is False:
                continue
            prohibited = q
            break
        if permitted is not None:
            if prohibited is None:
                return self._permit(permitted, pending)
            if self.conflict is ConflictStrategy.PROHIBIT:
                return Verdict(Decision.DENY, prohibited.path, "prohibited by " + prohibited.path)
            return Verdict(
                Decision.DENY,
                prohibited.path,
                "a permission and a prohibition conflict and the conflict strategy is 'invalid'",
            )
        if prohibited is not None:
            return Verdict(Decision.DENY, prohibited.path, "prohibited by " + prohibited.path)
        if not applicable:
            return Verdict(Decision.NOT_APPLICABLE, None, "no rule applies to this request")
        if blocked is not None:
            return Verdict(Decision.DENY, None, f"duty {blocked} must be fulfilled first")
        return Verdict(Decision.DENY, None, "no permission is active for this request")

    def _permit(self, rule: _Rule, pending: list[PendingDuty]) -> Verdict:
        if not pending:
            return rule.permit
        p = rule.permit
        return Verdict(p.decision, p.rule, p.reason, p.counters, tuple(pending))

    def explain(self, request: EvaluationRequest, world: World) -> Report:
        """The full reference report (slow path, for denials and audits)."""
        return evaluate(self.policy, request, world)

    def explain_text(self, request: EvaluationRequest, world: World) -> str:
        """One plain-language sentence for the decision (e.g. for a 403 detail)."""
        return explain_report(self.explain(request, world), world)


def operand_sources(node: Any) -> frozenset[str]:
    """The sources of every left operand in ``node`` (a policy or any part of it), walking
    rules, duties, consequences, refinements and logical constraints. An operand the engine
    does not know counts as ``"value"``: it compiles to a constant 'cannot evaluate'."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Constraint):
            spec = REGISTRY.get(item.left_operand)
            found.add(spec.source if spec is not None else "value")
        elif isinstance(item, tuple | list):
            stack.extend(item)
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, name) for name in item.__dataclass_fields__)
    return frozenset(found)


def compile_policy(policy: Policy) -> CompiledPolicy:
    """Compile once per agreement; reuse the result for every request."""
    return CompiledPolicy(policy)


__all__ = ["CompiledPolicy", "Verdict", "compile_policy", "date", "operand_sources"]
