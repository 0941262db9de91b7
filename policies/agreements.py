"""Offer → Agreement, and checking that two policies state the same terms.

DSP negotiation needs exactly these two ODRL operations: the provider turns the offer it accepted
into an agreement (adding assignee and timestamp), and either side checks that an offer or
agreement it receives states the terms it expects — regardless of uid, type or where the target and
parties were written (policy level or rule level).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from .errors import PolicyError
from .model import Asset, Party, Policy, PolicyType, effective_rules
from .validate import validate


def to_agreement(
    offer: Policy,
    *,
    uid: str,
    assignee: str,
    timestamp: datetime | None = None,
    target: str | None = None,
    assigner: str | None = None,
) -> Policy:
    """The Agreement for ``offer`` accepted by ``assignee``.

    ``target``/``assigner`` fill what a DSP catalog offer leaves implicit (the dataset, the
    provider). Raises :class:`PolicyError` when the result is not a valid Agreement.
    """
    if offer.inherit_from:
        raise PolicyError("$.inheritFrom", "resolve inheritFrom before making an agreement")
    agreement = replace(
        offer,
        uid=uid,
        type=PolicyType.AGREEMENT,
        assignee=Party(assignee),
        target=offer.target or (Asset(target) if target else None),
        assigner=offer.assigner or (Party(assigner) if assigner else None),
        timestamp=timestamp or datetime.now(UTC),
    )
    return validate(agreement)


def _terms(policy: Policy) -> Policy:
    # The policy-level assignee is who accepted, not a term; everything else is pushed into rules.
    eff = effective_rules(replace(policy, assignee=None))
    return replace(
        eff,
        uid="",
        type=PolicyType.SET,
        target=None,
        assigner=None,
        timestamp=None,
        profiles=tuple(sorted(eff.profiles)),
    )


def same_terms(a: Policy, b: Policy) -> bool:
    """Do ``a`` and ``b`` grant, forbid and oblige the same (ignoring uid, type, assignee, time)?

    Rule order matters (the first permitting rule decides and names counters), so it is compared.
    """
    return _terms(a) == _terms(b)
