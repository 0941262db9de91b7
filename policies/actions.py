"""Action matching: a rule on ``use`` also governs ``read`` (ODRL ``includedIn``)."""

from __future__ import annotations

from functools import cache

from .vocab import ACTION_INCLUDED_IN, ODRL

# Actions whose duty must be done *before* the permission is exercised (when no deadline says
# otherwise): paying, obtaining consent, accepting tracking, reviewing the policy.
PRE_USE_DUTIES = frozenset(
    ODRL + a for a in ("compensate", "obtainConsent", "acceptTracking", "reviewPolicy")
)


@cache
def broader_actions(action: str) -> frozenset[str]:
    """The action and every action that (transitively) includes it."""
    out = {action}
    name = action[len(ODRL) :] if action.startswith(ODRL) else None
    while name is not None:
        parent = ACTION_INCLUDED_IN.get(name)
        if parent is None:
            break
        out.add(ODRL + parent)
        name = parent
    return frozenset(out)


def covers(rule_action: str, requested: str) -> bool:
    """Does a rule on ``rule_action`` govern a request to perform ``requested``?"""
    return rule_action in broader_actions(requested)


@cache
def covered_by(rule_action: str) -> frozenset[str]:
    """Every known action a rule on ``rule_action`` governs (for the compiled matcher)."""
    known = {ODRL + a for a in ACTION_INCLUDED_IN} | {rule_action}
    return frozenset(a for a in known if covers(rule_action, a))
