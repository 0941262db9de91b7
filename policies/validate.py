"""Checks the ODRL information model puts on a whole policy, beyond the shape of each node.

Kept apart from parsing because templates and programmatic callers build :class:`Policy` objects
directly and must pass the same rules before a policy is offered or agreed.
"""

from __future__ import annotations

from .actions import NO_ACTION
from .errors import PolicyError
from .model import Policy, PolicyType


def validate(policy: Policy, *, strict_odrl: bool = False) -> Policy:
    """Raise :class:`PolicyError` when ``policy`` breaks an IM rule; return it otherwise.

    An Agreement needs an assigner, an assignee and a target for every rule (directly or at policy
    level). ODRL also wants an assigner on every Offer, but DSP 2025-1 catalog and request offers
    leave it implicit (it is the provider), so that rule only applies with ``strict_odrl``.
    """
    if not (policy.permissions or policy.prohibitions or policy.obligations):
        raise PolicyError("$", "a policy needs at least one permission, prohibition or obligation")
    need: tuple[str, ...] = ()
    if policy.type is PolicyType.AGREEMENT:
        need = ("assigner", "assignee", "target")
    elif policy.type is PolicyType.OFFER and strict_odrl:
        need = ("assigner",)
    elif policy.type is PolicyType.REQUEST and strict_odrl:
        need = ("assignee",)
    if policy.type in (PolicyType.OFFER, PolicyType.AGREEMENT):
        # A contract grants or forbids something definite; only Sets and Requests (evaluated or
        # analysed, never agreed) may leave a rule's action out (the report then says so).
        for path, rule in policy.rules():
            if rule.action.iri == NO_ACTION:
                raise PolicyError(
                    f"$.{path}.action", f"an {policy.type.value} needs an action on every rule"
                )
    for field in need:
        if getattr(policy, field) is not None:
            continue
        for path, rule in policy.rules():
            if getattr(rule, field) is None:
                raise PolicyError(
                    f"$.{path}.{field}",
                    f"an {policy.type.value} needs {'a' if field == 'target' else 'an'} {field}"
                    " (on the policy or on every rule)",
                )
    return policy
