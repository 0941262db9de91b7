"""The negotiation-as-order mapping, row by row against MARKETPLACE.md, and its refusals."""

from __future__ import annotations

import pytest

from marketplace.errors import OrderStateError
from marketplace.orders import (
    PRODUCT_EVENTS,
    NegotiationState,
    ProductEvent,
    ProductStatus,
    order_state,
    product_after,
    product_status,
)

ROWS = [
    ("REQUESTED", None, "acknowledged", None),
    ("OFFERED", None, "pending", None),
    ("ACCEPTED", None, "acknowledged", None),
    ("AGREED", None, "inProgress", "pendingActive"),
    ("VERIFIED", None, "inProgress", "pendingActive"),
    ("FINALIZED", None, "completed", "active"),
    ("TERMINATED", "consumer", "cancelled", None),
    ("TERMINATED", "provider", "failed", None),
]


@pytest.mark.parametrize(("state", "by", "order", "product"), ROWS)
def test_mapping(state: str, by: str | None, order: str, product: str | None) -> None:
    assert order_state(state, by) == order
    assert product_status(state) == product


def test_every_dsp_state_has_a_row() -> None:
    assert {r[0] for r in ROWS} == set(NegotiationState)


def test_terminated_needs_who() -> None:
    with pytest.raises(OrderStateError) as e:
        order_state("TERMINATED")
    assert e.value.field == "terminated_by"
    with pytest.raises(OrderStateError):
        order_state("TERMINATED", "auditor")
    with pytest.raises(OrderStateError):
        order_state("AGREED", "consumer")


@pytest.mark.parametrize("bad", ["requested", "PAID", "", "COMPLETED"])
def test_unknown_state_refused(bad: str) -> None:
    with pytest.raises(OrderStateError) as e:
        order_state(bad)
    assert e.value.found == bad
    with pytest.raises(OrderStateError):
        product_status(bad)


def test_product_events() -> None:
    assert product_after("active", "suspended_for_non_payment") == "suspended"
    assert product_after("suspended", "resumed") == "active"
    assert product_after("active", "agreement_ended") == "terminated"
    for status in ProductStatus:
        for event in ProductEvent:
            if (status, event) not in PRODUCT_EVENTS:
                with pytest.raises(OrderStateError):
                    product_after(status, event)
    with pytest.raises(OrderStateError):
        product_after("terminated", "resumed")
    with pytest.raises(OrderStateError):
        product_after("active", "explode")
