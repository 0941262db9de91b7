"""Conflict analysis for policy authors: do these policies contradict each other, and where?

A city composing an offer from templates wants to know, before publishing, whether a permission
is contradicted by a prohibition in some or every state of the world. The analysis looks at all
states at once, not one request:

* ``Conflict``: some permission can never be exercised without a prohibition also applying (every
  state of the world that activates it also activates a prohibition);
* ``Ambiguous``: some permission collides with a prohibition in some states and not in others;
* ``No conflict``: no state activates both.

Deontic consequences are applied as in standard deontic logic (system D, as the ODRL conflict
test cases do): an obligation, and a duty of a permission, entails the permission of its action
(Obl X → Perm X); an obligation refined to a range (pay < 10 EUR) prohibits the action outside it;
permissions of every part of a compound action (``compound_actions``, e.g. an OWL intersection
"rent and sell") entail the compound. The conflict strategy in force does not change whether the
rules contradict each other; it decides what happens where they do (``outcome``).

States are enumerated symbolically: each left operand is one dimension, sampled at the constants
the rules mention and between and around them (so every region an ordered comparison can carve
is represented); set and taxonomy operators (``isA``, ``isAnyOf`` …) are independent yes/no facts;
actions, targets and parties are the ones the rules name plus one "any other". Asset and party
collections with known members (``part_of``) stand for those members (a closed world).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .actions import NO_ACTION, canonical, covers
from .evaluator import typed_right
from .explain import describe_constraint
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
from .phrases import show
from .vocab import ODRL, short

#: the most states one analysis examines, over all its permissions (about a second of CPU); a
#: permission left unexamined makes the answer Undecided unless a collision was already shown
MAX_STATES = 25_000
_ORDERED_OPS = frozenset(ODRL + o for o in ("eq", "neq", "lt", "lteq", "gt", "gteq"))
_OTHER = "\u2026other"  # a value no rule names


class ConflictStatus(StrEnum):
    CONFLICT = "Conflict"
    NO_CONFLICT = "No conflict"
    AMBIGUOUS = "Ambiguous"
    #: too many states to examine them all and none of those examined collides
    UNDECIDED = "Undecided"


@dataclass(frozen=True, slots=True)
class Witness:
    """A permission and the prohibitions that contradict it, with where they meet.

    ``region`` is the conjunction of both sides' conditions (constraints and refinements) in
    plain words; ``example`` one state where they collide; ``counterexample`` (Ambiguous only)
    a state where the permission holds and no prohibition does.
    """

    status: ConflictStatus
    permission: str
    prohibitions: tuple[str, ...]
    action: str
    region: str
    example: dict[str, Any]
    counterexample: dict[str, Any] | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ConflictReport:
    status: ConflictStatus
    strategy: ConflictStrategy
    witnesses: tuple[Witness, ...]
    outcome: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "strategy": self.strategy.value,
            "outcome": self.outcome,
            "notes": list(self.notes),
            "witnesses": [
                {
                    "status": w.status.value,
                    "permission": w.permission,
                    "prohibitions": list(w.prohibitions),
                    "action": w.action,
                    "region": w.region,
                    "example": {k: _jsonable(v) for k, v in w.example.items()},
                    "counterexample": (
                        {k: _jsonable(v) for k, v in w.counterexample.items()}
                        if w.counterexample is not None
                        else None
                    ),
                    "note": w.note,
                }
                for w in self.witnesses
            ],
        }


def _jsonable(v: Any) -> Any:
    if isinstance(v, bool | int | str) or v is None:
        return v
    return show(v) if isinstance(v, datetime | Decimal) else str(v)


# -- the symbolic state -------------------------------------------------------------------------


@dataclass
class _State:
    action: str
    target: str
    party: str
    values: dict[str, Any]  # dimension -> sampled value
    facts: dict[tuple[str, str, str], bool]  # (operand, operator, value) -> holds


Pred = Callable[[_State], bool]


@dataclass
class _Rule:
    """A permission or prohibition, real or derived, as predicates over states."""

    kind: str  # permission | prohibition
    where: str  # policy uid + path
    action: str
    scope: Pred  # action, target, party
    condition: Pred  # constraints and refinements
    texts: tuple[str, ...]  # the conditions in words
    origin: str = ""  # why a derived rule exists
    atoms: tuple[Constraint, ...] = ()  # every atomic constraint its condition reads


@dataclass
class _Space:
    actions: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)
    parties: set[str] = field(default_factory=set)


def _ordered(v: Any) -> Any:
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC)
    if isinstance(v, bool):
        return None
    if isinstance(v, int | Decimal):
        return Decimal(v)
    return None


def _right(c: Constraint) -> Any:
    try:
        value = typed_right(c)
    except (ValueError, ArithmeticError, AssertionError):
        return str(c.right_operand)
    return value


def _atoms(cs: Iterable[AnyConstraint]) -> Iterable[Constraint]:
    for c in cs:
        if isinstance(c, LogicalConstraint):
            yield from _atoms(c.constraints)
        else:
            yield c


def _fact_key(c: Constraint) -> tuple[str, str, str]:
    return (c.left_operand, c.operator, str(c.right_operand))


def _dimensions(
    atoms: Iterable[Constraint],
) -> tuple[dict[str, set[Any]], set[tuple[str, str, str]]]:
    """The sampled dimensions (left operand -> constants) and the yes/no facts of ``atoms``."""
    dims: dict[str, set[Any]] = {}
    facts: set[tuple[str, str, str]] = set()
    for c in atoms:
        right = _right(c)
        o = _ordered(right) if not isinstance(right, tuple) else None
        if c.operator in _ORDERED_OPS and c.right_operand_reference is None and o is not None:
            dims.setdefault(c.left_operand, set()).add(o)
        elif (
            c.operator in (ODRL + "eq", ODRL + "neq")
            and c.right_operand_reference is None
            and not isinstance(right, tuple)
        ):
            dims.setdefault(c.left_operand, set()).add(str(right))
        else:
            facts.add(_fact_key(c))
    return dims, facts


def _samples(values: set[Any]) -> list[Any]:
    """Representatives of every region the constants carve: each constant, a point between
    neighbours and one beyond each end (per value type), and "any other" for named values."""
    names = sorted(v for v in values if isinstance(v, str))
    out: list[Any] = []
    for kind in (datetime, Decimal):
        ordered: list[Any] = sorted(v for v in values if isinstance(v, kind))
        if not ordered:
            continue
        step: Any = timedelta(days=1) if kind is datetime else Decimal(1)
        out.append(ordered[0] - step)
        for a, b in itertools.pairwise(ordered):
            out += [a, a + (b - a) / 2]
        out += [ordered[-1], ordered[-1] + step]
    if names:
        out += [*names, _OTHER]
    return out


def _atom_holds(c: Constraint, s: _State) -> bool:
    if c.left_operand in s.values and c.right_operand_reference is None:
        left = s.values[c.left_operand]
        right = _right(c)
        if isinstance(left, str) or isinstance(right, str):
            eq = isinstance(left, str) and left == str(right)
            return (
                eq if c.operator == ODRL + "eq" else not eq if c.operator == ODRL + "neq" else False
            )
        r = _ordered(right)
        if r is None or type(r) is not type(left):
            return False
        name = c.operator[len(ODRL) :]
        return {
            "eq": left == r,
            "neq": left != r,
            "lt": left < r,
            "lteq": left <= r,
            "gt": left > r,
            "gteq": left >= r,
        }[name]
    return s.facts.get(_fact_key(c), False)


def _holds(c: AnyConstraint, s: _State) -> bool:
    if isinstance(c, LogicalConstraint):
        results = [_holds(x, s) for x in c.constraints]
        if c.operator in (LogicalOperator.AND, LogicalOperator.AND_SEQUENCE):
            return all(results)
        if c.operator is LogicalOperator.OR:
            return any(results)
        return results.count(True) == 1
    return _atom_holds(c, s)


def _all(cs: Sequence[AnyConstraint]) -> Pred:
    return lambda s: all(_holds(c, s) for c in cs)


# -- scopes --------------------------------------------------------------------------------------


class _Graph:
    def __init__(self, part_of: Mapping[str, Iterable[str]]) -> None:
        self.up: dict[str, set[str]] = {k: set(v) for k, v in part_of.items()}
        self.collections = {c for v in self.up.values() for c in v}

    def ancestors(self, x: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.up.get(x, ()))
        while todo:
            y = todo.pop()
            if y not in seen:
                seen.add(y)
                todo.extend(self.up.get(y, ()))
        return seen


def _covers_thing(x: Asset | Party | None, value: str, g: _Graph) -> bool:
    if x is None:
        return True
    if x.uid is None:  # a refined collection: its refinements are conditions of the rule
        if x.source is None:
            return True
        return value == x.source or x.source in g.ancestors(value)
    return value == x.uid or x.uid in g.ancestors(value)


def _scope(action: str, target: Asset | None, party: Party | None, g: _Graph) -> Pred:
    def scope(s: _State) -> bool:
        return (
            _covers_action(action, s.action)
            and _covers_thing(target, s.target, g)
            and _covers_thing(party, s.party, g)
        )

    return scope


_SUB = "\u2282"  # marks "an unnamed action included in X"


def _covers_action(rule_action: str, state_action: str) -> bool:
    if state_action.startswith(_SUB):
        return covers(rule_action, state_action[1:])
    if state_action == _OTHER:
        return rule_action == NO_ACTION
    return covers(rule_action, state_action)


# -- rules from policies ---------------------------------------------------------------------------


def _texts(cs: Iterable[AnyConstraint]) -> tuple[str, ...]:
    # a negated refinement (xone with TRUE) is described by the caller
    return tuple(
        describe_constraint(c)
        for c in cs
        if not (isinstance(c, LogicalConstraint) and _TRUE in c.constraints)
    )


def _rules(
    policies: Sequence[Policy], g: _Graph, space: _Space, compound: Mapping[str, Iterable[str]]
) -> list[_Rule]:
    out: list[_Rule] = []

    def add(
        kind: str,
        where: str,
        rule: Any,
        conds: Sequence[AnyConstraint],
        origin: str,
        extra: tuple[str, ...] = (),
    ) -> None:
        space.actions.add(canonical(rule.action.iri))
        for x, bucket in ((rule.target, space.targets), (rule.assignee, space.parties)):
            if x is not None and x.uid:
                bucket.add(x.uid)
            if x is not None and x.source:
                bucket.add(x.source)
            if x is not None and x.refinements:
                # the members a refined collection admits are a condition on the state
                conds = (*conds, *x.refinements)
        out.append(
            _Rule(
                kind,
                where,
                rule.action.iri,
                _scope(rule.action.iri, rule.target, rule.assignee, g),
                _all(conds),
                _texts(conds) + extra,
                origin,
                tuple(_atoms(conds)),
            )
        )

    for policy in policies:
        pol = effective_rules(policy)
        for i, p in enumerate(pol.permissions):
            where = f"{policy.uid} permission[{i}]"
            add("permission", where, p, (*p.constraints, *p.action.refinements), "")
            for j, d in enumerate(p.duties):
                _duty(add, f"{where}.duty[{j}]", d, p.constraints, "a duty of " + where)
        for i, q in enumerate(pol.prohibitions):
            add(
                "prohibition",
                f"{policy.uid} prohibition[{i}]",
                q,
                (*q.constraints, *q.action.refinements),
                "",
            )
        for i, o in enumerate(pol.obligations):
            _duty(add, f"{policy.uid} obligation[{i}]", o, (), "an obligation")
    for whole, parts in compound.items():
        out.extend(_compound(whole, tuple(parts), out))
        space.actions.add(whole)
    return out


# A constraint that always holds; xone(A, TRUE) is "not A".
_TRUE = LogicalConstraint(LogicalOperator.AND, ())


def _duty(
    add: Callable[..., None],
    where: str,
    d: Duty,
    outer: Sequence[AnyConstraint],
    origin: str,
) -> None:
    conds = (*outer, *d.constraints)
    # Obl(X) -> Perm(X): what must be done may be done.
    add(
        "permission",
        where,
        d,
        (*conds, *d.action.refinements),
        f"{origin} (an obligation permits its action)",
    )
    if d.action.refinements:
        # Obliged to do X only as refined: doing it otherwise is prohibited.
        refined = LogicalConstraint(LogicalOperator.AND, d.action.refinements)
        negated = LogicalConstraint(LogicalOperator.XONE, (refined, _TRUE))
        add(
            "prohibition",
            where,
            d,
            (*conds, negated),
            f"{origin} (doing it outside its refinement is prohibited)",
            tuple(f"not {t}" for t in _texts(d.action.refinements)),
        )


def _compound(whole: str, parts: tuple[str, ...], rules: list[_Rule]) -> list[_Rule]:
    """Perm(A) and Perm(B) entail Perm(A and B): a derived permission of the compound action."""
    perms = [r for r in rules if r.kind == "permission"]
    per_part = [[r for r in perms if covers(r.action, p)] for p in parts]
    if not all(per_part):
        return []

    def scope(s: _State) -> bool:
        if s.action != whole:
            return False
        return all(
            any(r.scope(_with_action(s, part)) for r in rs)
            for part, rs in zip(parts, per_part, strict=True)
        )

    def condition(s: _State) -> bool:
        return all(
            any(r.scope(_with_action(s, part)) and r.condition(s) for r in rs)
            for part, rs in zip(parts, per_part, strict=True)
        )

    names = " and ".join(short(p) for p in parts)
    wheres = ", ".join(r.where for rs in per_part for r in rs)
    return [
        _Rule(
            "permission",
            wheres,
            whole,
            scope,
            condition,
            tuple(t for rs in per_part for r in rs for t in r.texts),
            f"permissions to {names} together permit {short(whole)}",
            tuple(a for rs in per_part for r in rs for a in r.atoms),
        )
    ]


def _with_action(s: _State, action: str) -> _State:
    return _State(action, s.target, s.party, s.values, s.facts)


# -- the analysis -------------------------------------------------------------------------------


def analyze(
    policies: Sequence[Policy],
    strategy: ConflictStrategy | str | None = None,
    *,
    part_of: Mapping[str, Iterable[str]] | None = None,
    compound_actions: Mapping[str, Iterable[str]] | None = None,
) -> ConflictReport:
    """Analyse ``policies`` together for contradictions across all states of the world.

    ``part_of`` maps an asset or party to the collections it belongs to (closed world for
    collections with members); ``compound_actions`` maps an action to the actions it is the
    conjunction of. ``strategy`` is the conflict strategy in force (default: the first policy's,
    else ``invalid``).
    """
    strat = _strategy(policies, strategy)
    g = _Graph(part_of or {})
    space = _Space()
    compound = {k: tuple(v) for k, v in (compound_actions or {}).items()}
    rules = _rules(policies, g, space, compound)
    perms = [r for r in rules if r.kind == "permission"]
    prohibs = [r for r in rules if r.kind == "prohibition"]
    witnesses: list[Witness] = []
    undecided: list[str] = []
    scopes = list(_scope_states(space, g))
    budget = [MAX_STATES]
    for p in perms:
        mine = [st for st in scopes if p.scope(st)]
        against = [q for q in prohibs if any(q.scope(st) for st in mine)]
        if not mine or not against:
            continue  # no state where this permission and a prohibition could both apply
        states = _states(mine, (*p.atoms, *(a for q in against for a in q.atoms)))
        witness, complete = _witness(p, against, states, budget)
        if witness is not None:
            witnesses.append(witness)
        elif not complete:
            undecided.append(p.where)
    notes = tuple(
        f"{where}: not every state could be examined (at most {MAX_STATES:,} per analysis) "
        "and none of those examined collides"
        for where in undecided
    )
    status = ConflictStatus.NO_CONFLICT
    if any(w.status is ConflictStatus.CONFLICT for w in witnesses):
        status = ConflictStatus.CONFLICT
    elif witnesses:
        status = ConflictStatus.AMBIGUOUS
    elif undecided:
        status = ConflictStatus.UNDECIDED
    return ConflictReport(status, strat, tuple(witnesses), _outcome(status, strat), notes)


def _strategy(
    policies: Sequence[Policy], strategy: ConflictStrategy | str | None
) -> ConflictStrategy:
    if strategy is None:
        found = [p.conflict for p in policies if p.conflict is not None]
        return found[0] if found else ConflictStrategy.INVALID
    return ConflictStrategy(strategy)


def _scope_states(space: _Space, g: _Graph) -> Iterable[_State]:
    """Every (action, target, party) the rules can tell apart, plus one "any other" of each."""
    named = sorted(space.actions - {NO_ACTION})
    actions = [*named, *(_SUB + a for a in named), _OTHER]
    # a collection with known members stands for its members (closed world)
    targets = [*sorted((space.targets - g.collections) | _members_of(space.targets, g)), _OTHER]
    parties = [*sorted((space.parties - g.collections) | _members_of(space.parties, g)), _OTHER]
    for a, t, p in itertools.product(actions, targets, parties):
        yield _State(a, t, p, {}, {})


def _states(scopes: list[_State], atoms: Iterable[Constraint]) -> Iterable[_State]:
    """Every state over ``scopes`` the ``atoms`` can tell apart (lazily)."""
    dim_map, fact_set = _dimensions(atoms)
    dims = sorted(dim_map)
    dim_values = [_samples(dim_map[d]) for d in dims]
    facts = sorted(fact_set)
    for sc in scopes:
        for vals in itertools.product(*dim_values):
            for bits in itertools.product((False, True), repeat=len(facts)):
                yield _State(
                    sc.action,
                    sc.target,
                    sc.party,
                    dict(zip(dims, vals, strict=True)),
                    dict(zip(facts, bits, strict=True)),
                )


def _members_of(names: set[str], g: _Graph) -> set[str]:
    return {m for m in g.up if names & (g.ancestors(m) | {m})}


def _witness(
    p: _Rule, prohibs: list[_Rule], states: Iterable[_State], budget: list[int]
) -> tuple[Witness | None, bool]:
    """The witness for ``p`` (None: no collision seen) and whether every state was examined.

    ``budget`` is the number of states the analysis may still examine (shared, decremented)."""
    hits: dict[str, _Rule] = {}
    example: _State | None = None
    free: _State | None = None
    complete = True
    for s in states:
        if budget[0] <= 0:
            complete = False
            break
        budget[0] -= 1
        if not p.condition(s):
            continue
        against = [q for q in prohibs if q.scope(s) and q.condition(s)]
        if against:
            example = example or s
            for q in against:
                hits.setdefault(q.where + q.origin, q)
        elif free is None:
            free = s
    if example is None:
        return None, complete
    if free is None and not complete:
        return None, False  # every examined state collides, but not all were examined
    status = ConflictStatus.AMBIGUOUS if free is not None else ConflictStatus.CONFLICT
    qs = list(hits.values())
    texts = list(dict.fromkeys((*p.texts, *(t for q in qs for t in q.texts))))
    region = " and ".join(texts) if texts else "in every state of the world"
    notes = [x for x in (p.origin, *(q.origin for q in qs)) if x]
    return (
        Witness(
            status,
            p.where,
            tuple(q.where for q in qs),
            short(example.action)
            if not example.action.startswith(_SUB)
            else short(example.action[1:]),
            region,
            _describe(example),
            _describe(free) if free is not None else None,
            "; ".join(notes),
        ),
        True,
    )


def _describe(s: _State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in (("action", s.action), ("target", s.target), ("assignee", s.party)):
        if v.startswith(_SUB):
            v = f"an action included in {short(v[1:])}"
        elif v == _OTHER:
            v = f"any other {key}"
        else:
            v = short(v)
        out[key] = v
    for dim, v in s.values.items():
        out[short(dim)] = "any other value" if v == _OTHER else v
    for (lo, op, right), holds in s.facts.items():
        out[f"{short(lo)} {short(op)} {short(right)}"] = holds
    return out


def _outcome(status: ConflictStatus, strategy: ConflictStrategy) -> str:
    if status is ConflictStatus.NO_CONFLICT:
        return "no state of the world is both permitted and prohibited"
    if status is ConflictStatus.UNDECIDED:
        return "the policies could not be checked in full; split them or simplify the constraints"
    where = "wherever they meet"
    if strategy is ConflictStrategy.PERM:
        return f"the conflict strategy 'perm' lets the permission prevail {where}"
    if strategy is ConflictStrategy.PROHIBIT:
        return f"the conflict strategy 'prohibit' lets the prohibition prevail {where}"
    return f"the conflict strategy 'invalid' voids the policy {where}: such requests are denied"


def explain_conflicts(report: ConflictReport) -> str:
    """The analysis in plain language, one paragraph per witness (for policy authors)."""
    if report.status is ConflictStatus.NO_CONFLICT:
        return "No conflict: in no state of the world is an action both permitted and prohibited."
    if report.status is ConflictStatus.UNDECIDED:
        return "Undecided: " + "; ".join(report.notes) + "."
    lines = []
    head = {
        ConflictStatus.CONFLICT: "Conflict: a permission can never be used without a prohibition "
        "also applying.",
        ConflictStatus.AMBIGUOUS: "Ambiguous: in some states of the world a permission and a "
        "prohibition both apply, in others they do not.",
    }[report.status]
    lines.append(head)
    for w in report.witnesses:
        against = ", ".join(w.prohibitions)
        kind = "always" if w.status is ConflictStatus.CONFLICT else "sometimes"
        line = f"- {w.permission} ({w.action}) {kind} meets {against}"
        line += f" when {w.region}." if w.region != "in every state of the world" else "."
        if w.counterexample is not None:
            free = ", ".join(f"{k} {_jsonable(v)}" for k, v in w.counterexample.items())
            line += f" It does not when {free}."
        if w.note:
            line += f" ({w.note})"
        lines.append(line)
    lines.append(f"Outcome: {report.outcome}.")
    lines.extend(f"Note: {n}." for n in report.notes)
    return "\n".join(lines)


__all__ = [
    "MAX_STATES",
    "ConflictReport",
    "ConflictStatus",
    "Witness",
    "analyze",
    "explain_conflicts",
]
