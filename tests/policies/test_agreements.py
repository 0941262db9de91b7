"""Offer → Agreement and term comparison (what DSP negotiation needs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from policies import PolicyError, PolicyType, parse_policy, to_compact
from policies.agreements import same_terms, to_agreement
from policies.templates import commercial_monthly_fee

from .helpers import CITY, CONSUMER, TARGET


def test_offer_becomes_agreement_with_same_terms() -> None:
    offer = commercial_monthly_fee("urn:offer:1", CITY, TARGET, amount="10", monthly_requests=5)
    when = datetime(2026, 2, 1, tzinfo=UTC)
    agreement = to_agreement(offer, uid="urn:agreement:1", assignee=CONSUMER, timestamp=when)
    assert agreement.type is PolicyType.AGREEMENT
    assert agreement.timestamp == when
    assert same_terms(offer, agreement)
    assert parse_policy(to_compact(agreement, "dsp", embedded=True)) == agreement
    other = commercial_monthly_fee("urn:offer:2", CITY, TARGET, amount="11", monthly_requests=5)
    assert not same_terms(offer, other)


def test_catalog_offer_without_target_needs_one() -> None:
    offer = parse_policy({"@type": "Offer", "@id": "urn:o", "permission": [{"action": "use"}]})
    with pytest.raises(PolicyError):
        to_agreement(offer, uid="urn:a", assignee=CONSUMER)
    agreement = to_agreement(offer, uid="urn:a", assignee=CONSUMER, target=TARGET, assigner=CITY)
    assert agreement.target is not None and agreement.target.uid == TARGET
