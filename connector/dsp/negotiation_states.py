"""The contract negotiation state machine of DSP 2025-1, as one explicit table.

Rows are (current state, message, sender role) -> next state. ``None`` as current state means
"no negotiation yet" (the initiating request or offer). The same table decides both sides: the
receiver checks an incoming message against it, the sender applies it when it queues the message
in its outbox, so both parties walk the same path.

Source: the state machine figure and message descriptions of the Contract Negotiation Protocol.
Termination is allowed from every non-terminal state by either party, because the protocol text
says the termination message "MAY be sent at any state"; the figure draws only a subset.
"""

from __future__ import annotations

from enum import StrEnum


class NState(StrEnum):
    REQUESTED = "REQUESTED"
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    AGREED = "AGREED"
    VERIFIED = "VERIFIED"
    FINALIZED = "FINALIZED"
    TERMINATED = "TERMINATED"


class NMessage(StrEnum):
    REQUEST = "ContractRequestMessage"
    OFFER = "ContractOfferMessage"
    ACCEPTED = "ContractNegotiationEventMessage:ACCEPTED"
    AGREEMENT = "ContractAgreementMessage"
    VERIFICATION = "ContractAgreementVerificationMessage"
    FINALIZED = "ContractNegotiationEventMessage:FINALIZED"
    TERMINATION = "ContractNegotiationTerminationMessage"


class Role(StrEnum):
    PROVIDER = "provider"
    CONSUMER = "consumer"


P, C = Role.PROVIDER, Role.CONSUMER
TERMINAL = frozenset({NState.FINALIZED, NState.TERMINATED})

TRANSITIONS: dict[tuple[NState | None, NMessage, Role], NState] = {
    (None, NMessage.REQUEST, C): NState.REQUESTED,
    (None, NMessage.OFFER, P): NState.OFFERED,
    (NState.REQUESTED, NMessage.OFFER, P): NState.OFFERED,
    (NState.REQUESTED, NMessage.AGREEMENT, P): NState.AGREED,
    (NState.OFFERED, NMessage.REQUEST, C): NState.REQUESTED,
    (NState.OFFERED, NMessage.ACCEPTED, C): NState.ACCEPTED,
    (NState.ACCEPTED, NMessage.AGREEMENT, P): NState.AGREED,
    (NState.AGREED, NMessage.VERIFICATION, C): NState.VERIFIED,
    (NState.VERIFIED, NMessage.FINALIZED, P): NState.FINALIZED,
    **{
        (state, NMessage.TERMINATION, role): NState.TERMINATED
        for state in NState
        if state not in TERMINAL
        for role in Role
    },
}


class IllegalTransition(Exception):
    """The message is not allowed in the negotiation's current state (HTTP 400 on the wire)."""

    def __init__(self, state: NState | None, message: NMessage, sender: Role) -> None:
        self.state, self.message, self.sender = state, message, sender
        where = state.value if state else "no negotiation"
        super().__init__(f"{message.value} from the {sender.value} is not allowed in {where}")


def next_state(state: NState | None, message: NMessage, sender: Role) -> NState:
    """The state after ``sender`` sent ``message`` in ``state``, or :class:`IllegalTransition`."""
    try:
        return TRANSITIONS[(state, message, sender)]
    except KeyError:
        raise IllegalTransition(state, message, sender) from None


def illegal_cases() -> list[tuple[NState | None, NMessage, Role]]:
    """Every (state, message, sender) the table does not allow: the tests walk all of them."""
    states: list[NState | None] = [None, *NState]
    return [
        (s, m, r) for s in states for m in NMessage for r in Role if (s, m, r) not in TRANSITIONS
    ]
