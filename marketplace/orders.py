"""The negotiation is the order: TMF622 ``productOrder.state`` and TMF637 ``product.status``
derived from the DSP contract negotiation's state (consumer's view), as explicit tables.

DSP 2025-1 has seven negotiation states; MARKETPLACE.md's table names five. The other two map to
their neighbours: ACCEPTED (the consumer accepted a counter-offer, the provider is to agree) is
``acknowledged`` again, and VERIFIED (the consumer verified the agreement, the provider is to
finalize) is ``inProgress`` like AGREED. TERMINATED becomes ``cancelled`` when the consumer ended
it and ``failed`` when the provider refused; FINALIZED is terminal in DSP, so there is no
"terminated after finalized" order state — the end of an agreement is a product event instead.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from .errors import OrderStateError


class NegotiationState(StrEnum):
    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class OrderState(StrEnum):
    """The TMF622 v4 productOrder states Agora uses."""

    ACKNOWLEDGED = "acknowledged"
    PENDING = "pending"
    IN_PROGRESS = "inProgress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ProductStatus(StrEnum):
    """The TMF637 v4 product statuses Agora uses."""

    PENDING_ACTIVE = "pendingActive"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"


class TerminatedBy(StrEnum):
    CONSUMER = "consumer"
    PROVIDER = "provider"


class ProductEvent(StrEnum):
    """What happens to an acquired product after the negotiation finalized."""

    SUSPENDED_FOR_NON_PAYMENT = "suspended_for_non_payment"
    RESUMED = "resumed"
    AGREEMENT_ENDED = "agreement_ended"


N = NegotiationState
ORDER_STATE: Final[dict[NegotiationState, OrderState]] = {
    N.REQUESTED: OrderState.ACKNOWLEDGED,
    N.OFFERED: OrderState.PENDING,
    N.ACCEPTED: OrderState.ACKNOWLEDGED,
    N.AGREED: OrderState.IN_PROGRESS,
    N.VERIFIED: OrderState.IN_PROGRESS,
    N.FINALIZED: OrderState.COMPLETED,
}
TERMINATED_ORDER_STATE: Final[dict[TerminatedBy, OrderState]] = {
    TerminatedBy.CONSUMER: OrderState.CANCELLED,
    TerminatedBy.PROVIDER: OrderState.FAILED,
}
PRODUCT_STATUS: Final[dict[NegotiationState, ProductStatus | None]] = {
    N.REQUESTED: None,
    N.OFFERED: None,
    N.ACCEPTED: None,
    N.AGREED: ProductStatus.PENDING_ACTIVE,  # the payment condition is still open
    N.VERIFIED: ProductStatus.PENDING_ACTIVE,
    N.FINALIZED: ProductStatus.ACTIVE,
    N.TERMINATED: None,
}
# (current product status, event) -> next status. Only an existing product has events.
PRODUCT_EVENTS: Final[dict[tuple[ProductStatus, ProductEvent], ProductStatus]] = {
    (ProductStatus.ACTIVE, ProductEvent.SUSPENDED_FOR_NON_PAYMENT): ProductStatus.SUSPENDED,
    (ProductStatus.SUSPENDED, ProductEvent.RESUMED): ProductStatus.ACTIVE,
    (ProductStatus.ACTIVE, ProductEvent.AGREEMENT_ENDED): ProductStatus.TERMINATED,
    (ProductStatus.SUSPENDED, ProductEvent.AGREEMENT_ENDED): ProductStatus.TERMINATED,
    (ProductStatus.PENDING_ACTIVE, ProductEvent.AGREEMENT_ENDED): ProductStatus.TERMINATED,
}


def _state(state: NegotiationState | str) -> NegotiationState:
    try:
        return NegotiationState(state)
    except ValueError:
        raise OrderStateError(
            "not a DSP negotiation state",
            field="state",
            expected=" | ".join(NegotiationState),
            found=state,
        ) from None


def order_state(
    state: NegotiationState | str, terminated_by: TerminatedBy | str | None = None
) -> OrderState:
    """The productOrder.state of a negotiation; a TERMINATED one needs who ended it."""
    s = _state(state)
    if s is NegotiationState.TERMINATED:
        if terminated_by is None:
            raise OrderStateError(
                "a terminated negotiation is cancelled or failed depending on who ended it",
                field="terminated_by",
                expected="consumer | provider",
                found=None,
            )
        try:
            return TERMINATED_ORDER_STATE[TerminatedBy(terminated_by)]
        except ValueError:
            raise OrderStateError(
                "unknown party",
                field="terminated_by",
                expected="consumer | provider",
                found=terminated_by,
            ) from None
    if terminated_by is not None:
        raise OrderStateError(
            "only a terminated negotiation has a terminating party",
            field="terminated_by",
            expected="None",
            found=terminated_by,
        )
    return ORDER_STATE[s]


def product_status(state: NegotiationState | str) -> ProductStatus | None:
    """The TMF637 product.status a negotiation implies (``None``: no product exists yet)."""
    return PRODUCT_STATUS[_state(state)]


def product_after(status: ProductStatus | str, event: ProductEvent | str) -> ProductStatus:
    """The product's status after ``event``, if :data:`PRODUCT_EVENTS` allows it."""
    try:
        key = (ProductStatus(status), ProductEvent(event))
    except ValueError:
        raise OrderStateError(
            "unknown product status or event",
            field="event",
            expected=" | ".join(ProductEvent),
            found=f"{status}, {event}",
        ) from None
    if key not in PRODUCT_EVENTS:
        allowed = sorted(str(e) for (st, e) in PRODUCT_EVENTS if st == key[0]) or [
            "nothing (final)"
        ]
        raise OrderStateError(
            f"a {key[0]} product cannot take {key[1]}",
            field="event",
            expected=" | ".join(allowed),
            found=str(key[1]),
        )
    return PRODUCT_EVENTS[key]
