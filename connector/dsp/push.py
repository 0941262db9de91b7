"""The PUSH seam: what happens on the provider when a push transfer starts, stops or resumes.

The provider calls :class:`PushProvisioner` inside the transaction that applies the transfer's
state change, with that transaction's connection: the subscription it creates, pauses or deletes
commits (or rolls back) together with the new state, so a crash never leaves a STARTED push
transfer without its subscription, or a TERMINATED one with a live subscription. In-memory
effects (the subscriptions engine's compiled copy) are registered with
:func:`connector.dsp.runtime.after_commit`.

:class:`connector.enforcement.push.SubscriptionPush` (installed by the enforcement component
when the embedded NGSI-LD subscriptions engine runs) is the real implementation; without it the
default only records the consumer's endpoint, which the transfer row keeps as ``data_address``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from connector.storage.inline import Conn


@dataclass(frozen=True)
class PushTransfer:
    transfer_id: str
    agreement_id: str
    consumer_did: str
    dataset_id: str
    endpoint: dict[str, Any]


class PushRefused(Exception):
    """The push cannot be provisioned (e.g. the agreement permits no ``read``); the transfer
    request or resumption is refused with this reason and nothing is created."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PushProvisioner(Protocol):
    async def started(self, conn: Conn, transfer: PushTransfer) -> None:
        """Create (first start) or re-activate (resume) the push; :class:`PushRefused`."""

    async def stopped(self, conn: Conn, transfer_id: str, state: str) -> None:
        """Pause (SUSPENDED) or remove (COMPLETED, TERMINATED) the push."""


class RecordOnlyPush:
    """No subscription engine: the endpoint is only recorded on the transfer."""

    async def started(self, conn: Conn, transfer: PushTransfer) -> None:
        return None

    async def stopped(self, conn: Conn, transfer_id: str, state: str) -> None:
        return None
