"""The evaluator's report: every rule's activation, every constraint's satisfaction, every duty's
deontic state, and the decision with its reasons.

Vocabulary follows the W3C ODRL Formal Semantics draft (activation state active/inactive,
satisfaction satisfied/not-satisfied, deontic state fulfilled/violated, permission control state
permit/deny). We add ``error`` for constraints that could not be evaluated (unknown operand or
operator, missing value) — those never count as satisfied in a permission — and ``pending`` for
duties not yet fulfilled whose deadline has not passed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Decision(StrEnum):
    PERMIT = "permit"
    DENY = "deny"
    NOT_APPLICABLE = "not-applicable"


class Satisfaction(StrEnum):
    SATISFIED = "satisfied"
    NOT_SATISFIED = "not-satisfied"
    ERROR = "error"


class Activation(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    NOT_APPLICABLE = "not-applicable"  # the rule does not match the request's party/action/target


class DutyState(StrEnum):
    FULFILLED = "fulfilled"
    VIOLATED = "violated"
    PENDING = "pending"
    INACTIVE = "inactive"  # its conditions do not hold yet, nothing is owed


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """A usage counter a ``count`` constraint needs consumed when the permission is exercised.

    ``limit`` is the largest allowed count in one window; ``window`` is ``None`` (whole agreement)
    or ``perHour``/``perDay``/``perWeek``/``perMonth``/``perYear`` (UTC calendar periods).
    """

    key: str
    limit: int
    window: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class ConsumeResult:
    """What a usage store answers when asked to consume a counter (see :mod:`policies.usage`)."""

    ok: bool
    used: int
    limit: int
    window: str
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ConstraintReport:
    path: str
    state: Satisfaction
    reason: str
    left_operand: str | None = None
    operator: str | None = None
    right_operand: Any = None
    left_value: Any = None
    children: tuple[ConstraintReport, ...] = ()
    uid: str | None = None  # the constraint's @id, when it has one


@dataclass(frozen=True, slots=True)
class DutyReport:
    path: str
    key: str
    action: str
    state: DutyState
    reason: str
    deadline: datetime | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    blocking: bool = False
    constraints: tuple[ConstraintReport, ...] = ()
    consequences: tuple[DutyReport, ...] = ()


@dataclass(frozen=True, slots=True)
class PremiseReport:
    """Whether the request matches one part of a rule: its ``action``, ``target`` or ``assignee``.

    Every premise the rule states is reported, matched or not (the formal semantics reports each
    premise's satisfaction); ``refinements`` are those of an asset or party collection.
    """

    kind: str  # action | target | assignee
    state: Satisfaction
    reason: str
    refinements: tuple[ConstraintReport, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleReport:
    """One rule's evaluation.

    ``activation`` is NOT_APPLICABLE when a premise (action, target, party) does not match,
    else ACTIVE/INACTIVE from the constraints. ``premises`` holds every premise's state;
    ``missing`` names the premises the rule leaves out that ODRL expects (``action``).
    Action refinements (in ``refinements`` with the collection refinements) limit what is
    permitted, not whether the rule is active: ``refined`` is their combined state and a
    permission with an unsatisfied refinement is active but not ``permitted``.
    """

    path: str
    kind: str  # permission | prohibition | obligation
    action: str
    activation: Activation
    reason: str
    constraints: tuple[ConstraintReport, ...] = ()
    refinements: tuple[ConstraintReport, ...] = ()
    duties: tuple[DutyReport, ...] = ()
    permitted: bool | None = None  # control state of a permission
    counters: tuple[CounterSpec, ...] = ()
    premises: tuple[PremiseReport, ...] = ()
    missing: tuple[str, ...] = ()
    uid: str | None = None
    refined: Satisfaction = Satisfaction.SATISFIED


@dataclass(frozen=True, slots=True)
class Report:
    policy_uid: str
    decision: Decision
    reasons: tuple[str, ...]
    rules: tuple[RuleReport, ...]
    conflict: str
    counters: tuple[CounterSpec, ...] = ()
    pending_duties: tuple[DutyReport, ...] = ()
    obligations: tuple[DutyReport, ...] = ()
    decided_by: str | None = None

    @property
    def permitted(self) -> bool:
        return self.decision is Decision.PERMIT

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for the provenance log and the management API)."""
        return _jsonable(asdict(self))


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, StrEnum):
        return v.value
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    return str(v)
