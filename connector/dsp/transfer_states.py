"""The transfer process state machine of DSP 2025-1, as one explicit table.

Rows are (current state, message, sender role) -> next state; ``None`` means "no transfer yet".
The receiver checks incoming messages against it and the sender applies it when it queues a
message, exactly as for negotiations. Source: the Transfer Process Protocol's state machine.
"""

from __future__ import annotations

from enum import StrEnum

from connector.dsp.negotiation_states import Role


class TState(StrEnum):
    REQUESTED = "REQUESTED"
    STARTED = "STARTED"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    TERMINATED = "TERMINATED"


class TMessage(StrEnum):
    REQUEST = "TransferRequestMessage"
    START = "TransferStartMessage"
    SUSPENSION = "TransferSuspensionMessage"
    COMPLETION = "TransferCompletionMessage"
    TERMINATION = "TransferTerminationMessage"


P, C = Role.PROVIDER, Role.CONSUMER
BOTH = (P, C)
TERMINAL = frozenset({TState.COMPLETED, TState.TERMINATED})

TRANSITIONS: dict[tuple[TState | None, TMessage, Role], TState] = {
    (None, TMessage.REQUEST, C): TState.REQUESTED,
    (TState.REQUESTED, TMessage.START, P): TState.STARTED,
    (TState.REQUESTED, TMessage.TERMINATION, P): TState.TERMINATED,
    (TState.REQUESTED, TMessage.TERMINATION, C): TState.TERMINATED,
    **{(TState.STARTED, TMessage.COMPLETION, r): TState.COMPLETED for r in BOTH},
    **{(TState.STARTED, TMessage.SUSPENSION, r): TState.SUSPENDED for r in BOTH},
    **{(TState.STARTED, TMessage.TERMINATION, r): TState.TERMINATED for r in BOTH},
    **{(TState.SUSPENDED, TMessage.START, r): TState.STARTED for r in BOTH},
    **{(TState.SUSPENDED, TMessage.TERMINATION, r): TState.TERMINATED for r in BOTH},
}


class IllegalTransition(Exception):
    """The message is not allowed in the transfer's current state (HTTP 400 on the wire)."""

    def __init__(self, state: TState | None, message: TMessage, sender: Role) -> None:
        self.state, self.message, self.sender = state, message, sender
        where = state.value if state else "no transfer process"
        super().__init__(f"{message.value} from the {sender.value} is not allowed in {where}")


def next_state(state: TState | None, message: TMessage, sender: Role) -> TState:
    try:
        return TRANSITIONS[(state, message, sender)]
    except KeyError:
        raise IllegalTransition(state, message, sender) from None


def illegal_cases() -> list[tuple[TState | None, TMessage, Role]]:
    states: list[TState | None] = [None, *TState]
    return [
        (s, m, r) for s in states for m in TMessage for r in Role if (s, m, r) not in TRANSITIONS
    ]
