"""The ODRL 2.2 information model as immutable Python objects.

Objects are frozen so a compiled agreement can close over them safely and share them between
requests. IRIs are stored expanded (``http://www.w3.org/ns/odrl/2/use``); :mod:`policies.vocab`
gives short names for display. Policy-level ``target``/``assigner``/``assignee`` are kept where the
author wrote them (so round trips are faithful); :func:`effective_rules` pushes them into rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TypeAlias, TypeVar

from .values import IRI, Literal
from .vocab import ODRL

Value: TypeAlias = IRI | Literal
RightOperand: TypeAlias = Value | tuple[Value, ...]


class PolicyType(StrEnum):
    SET = "Set"
    OFFER = "Offer"
    AGREEMENT = "Agreement"
    REQUEST = "Request"


class ConflictStrategy(StrEnum):
    PERM = "perm"
    PROHIBIT = "prohibit"
    INVALID = "invalid"


class LogicalOperator(StrEnum):
    AND = "and"
    OR = "or"
    XONE = "xone"
    AND_SEQUENCE = "andSequence"


@dataclass(frozen=True, slots=True)
class Constraint:
    """``leftOperand operator rightOperand`` (or ``rightOperandReference``)."""

    left_operand: str
    operator: str
    right_operand: RightOperand | None = None
    right_operand_reference: str | None = None
    data_type: str | None = None
    unit: str | None = None
    uid: str | None = None
    claim_path: str | None = None  # agora:claimPath, only for the vc:claim left operand

    def __post_init__(self) -> None:
        # JSON-LD cannot tell ["x"] from "x" (without @list); set operators read a single value
        # as a one-element set anyway, so one canonical form keeps round trips exact.
        r = self.right_operand
        if isinstance(r, tuple) and len(r) == 1:
            object.__setattr__(self, "right_operand", r[0])


@dataclass(frozen=True, slots=True)
class LogicalConstraint:
    """``and``/``or``/``xone``/``andSequence`` over other constraints."""

    operator: LogicalOperator
    constraints: tuple[AnyConstraint, ...]
    uid: str | None = None


AnyConstraint: TypeAlias = Constraint | LogicalConstraint


@dataclass(frozen=True, slots=True)
class Action:
    """An action IRI, optionally refined (e.g. ``compensate`` refined by ``payAmount``)."""

    iri: str
    refinements: tuple[AnyConstraint, ...] = ()

    @property
    def name(self) -> str:
        return self.iri[len(ODRL) :] if self.iri.startswith(ODRL) else self.iri


@dataclass(frozen=True, slots=True)
class Asset:
    """A target. ``collection`` marks an AssetCollection, whose members satisfy ``refinements``."""

    uid: str | None
    collection: bool = False
    refinements: tuple[AnyConstraint, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Party:
    """An assigner/assignee. ``collection`` marks a PartyCollection (members via refinement)."""

    uid: str | None
    collection: bool = False
    refinements: tuple[AnyConstraint, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Duty:
    """An obligation or a permission's duty (pre-/post-condition), with its consequences."""

    action: Action
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    constraints: tuple[AnyConstraint, ...] = ()
    uid: str | None = None
    consequences: tuple[Duty, ...] = ()


@dataclass(frozen=True, slots=True)
class Permission:
    action: Action
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    constraints: tuple[AnyConstraint, ...] = ()
    uid: str | None = None
    duties: tuple[Duty, ...] = ()


@dataclass(frozen=True, slots=True)
class Prohibition:
    action: Action
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    constraints: tuple[AnyConstraint, ...] = ()
    uid: str | None = None
    remedies: tuple[Duty, ...] = ()


Rule: TypeAlias = Permission | Prohibition | Duty


@dataclass(frozen=True, slots=True)
class Policy:
    """An ODRL policy (Set, Offer, Agreement or Request)."""

    uid: str
    type: PolicyType = PolicyType.SET
    permissions: tuple[Permission, ...] = ()
    prohibitions: tuple[Prohibition, ...] = ()
    obligations: tuple[Duty, ...] = ()
    target: Asset | None = None
    assigner: Party | None = None
    assignee: Party | None = None
    profiles: tuple[str, ...] = ()
    inherit_from: tuple[str, ...] = ()
    conflict: ConflictStrategy | None = None
    timestamp: datetime | None = None

    def rules(self) -> Iterator[tuple[str, Rule]]:
        """Every top-level rule with its JSON path segment (``permission[0]`` …)."""
        for i, p in enumerate(self.permissions):
            yield f"permission[{i}]", p
        for i, q in enumerate(self.prohibitions):
            yield f"prohibition[{i}]", q
        for i, o in enumerate(self.obligations):
            yield f"obligation[{i}]", o


_R = TypeVar("_R", Permission, Prohibition, Duty)


def _fill(rule: _R, policy: Policy) -> _R:
    return replace(
        rule,
        target=rule.target or policy.target,
        assigner=rule.assigner or policy.assigner,
        assignee=rule.assignee or policy.assignee,
    )


def effective_rules(policy: Policy) -> Policy:
    """The policy with policy-level target/assigner/assignee copied into each rule (IM §2.7.1)."""
    return replace(
        policy,
        permissions=tuple(
            replace(_fill(p, policy), duties=tuple(_fill(d, policy) for d in p.duties))
            for p in policy.permissions
        ),
        prohibitions=tuple(_fill(q, policy) for q in policy.prohibitions),
        obligations=tuple(_fill(o, policy) for o in policy.obligations),
    )
