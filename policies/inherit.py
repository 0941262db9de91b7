"""``inheritFrom``: a policy that builds on parent policies.

ODRL IM §2.6.6: the child gets every rule of its parents, and policy-level properties it does not
set itself. When parents and child name different conflict strategies, the result is ``invalid``
(the IM's rule for combining policies with different strategies).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .errors import PolicyError
from .model import ConflictStrategy, Policy, effective_rules

Lookup = Callable[[str], Policy | None]


def resolve(policy: Policy, lookup: Lookup) -> Policy:
    """The policy with all ``inheritFrom`` parents merged in (transitively; cycles are errors)."""
    return _resolve(policy, lookup, (policy.uid,))


def _resolve(policy: Policy, lookup: Lookup, chain: tuple[str, ...]) -> Policy:
    if not policy.inherit_from:
        return policy
    child = effective_rules(policy)
    permissions = list(child.permissions)
    prohibitions = list(child.prohibitions)
    obligations = list(child.obligations)
    strategies = {policy.conflict} if policy.conflict else set()
    profiles = list(policy.profiles)
    for i, uid in enumerate(policy.inherit_from):
        if uid in chain:
            raise PolicyError(f"$.inheritFrom[{i}]", f"inheritance cycle through {uid}")
        parent = lookup(uid)
        if parent is None:
            raise PolicyError(f"$.inheritFrom[{i}]", f"parent policy {uid} is not known")
        parent = effective_rules(_resolve(parent, lookup, (*chain, uid)))
        permissions.extend(parent.permissions)
        prohibitions.extend(parent.prohibitions)
        obligations.extend(parent.obligations)
        if parent.conflict:
            strategies.add(parent.conflict)
        profiles.extend(p for p in parent.profiles if p not in profiles)
    conflict = strategies.pop() if len(strategies) == 1 else None
    if len(strategies) >= 1:
        conflict = ConflictStrategy.INVALID
    return replace(
        child,
        permissions=tuple(permissions),
        prohibitions=tuple(prohibitions),
        obligations=tuple(obligations),
        profiles=tuple(profiles),
        conflict=conflict,
        inherit_from=(),
    )
