"""Action matching: a rule on ``use`` also governs ``read`` (ODRL ``includedIn``), and a deprecated
2.2 action is the same action as its ``skos:exactMatch`` (``write`` ≡ ``modify``).

A rule without an action (accepted in Sets and Requests, see :mod:`policies.validate`) has no
action premise: :data:`NO_ACTION` is its action and it governs every requested action.
"""

from __future__ import annotations

from functools import cache

from .vocab import ACTION_INCLUDED_IN, CC, CC_ACTIONS, DEPRECATED_ACTIONS, ODRL

# Actions whose duty must be done *before* the permission is exercised (when no deadline says
# otherwise): paying, obtaining consent, accepting tracking, reviewing the policy.
PRE_USE_DUTIES = frozenset(
    ODRL + a for a in ("compensate", "obtainConsent", "acceptTracking", "reviewPolicy")
)

#: The IRI of the action of a rule that names none (an empty IRI never names a real action).
NO_ACTION = ""

_EXACT = {ODRL + k: v for k, v in DEPRECATED_ACTIONS.items()}
_PARENT: dict[str, str | None] = {
    ODRL + k: (ODRL + v if v is not None else None) for k, v in ACTION_INCLUDED_IN.items()
}
_PARENT.update({a: ODRL + "use" for a in CC_ACTIONS})


def canonical(action: str) -> str:
    """The current 2.2 action a deprecated one exactly matches (else the action itself)."""
    return _EXACT.get(action, action)


@cache
def broader_actions(action: str) -> frozenset[str]:
    """The action, its exact match, and every action that (transitively) includes it."""
    out: set[str] = set()
    current: str | None = canonical(action)
    while current is not None and current not in out:
        out.add(current)
        current = _PARENT.get(current)
    return frozenset(out | {action})


def covers(rule_action: str, requested: str) -> bool:
    """Does a rule on ``rule_action`` govern a request to perform ``requested``?"""
    if rule_action == NO_ACTION:
        return True
    return canonical(rule_action) in broader_actions(requested)


@cache
def covered_by(rule_action: str) -> frozenset[str]:
    """Every known action a rule on ``rule_action`` governs (for the compiled matcher)."""
    known = set(_PARENT) | set(_EXACT) | {rule_action, canonical(rule_action)}
    return frozenset(a for a in known if covers(rule_action, a))


__all__ = [
    "CC",
    "NO_ACTION",
    "PRE_USE_DUTIES",
    "broader_actions",
    "canonical",
    "covered_by",
    "covers",
]
