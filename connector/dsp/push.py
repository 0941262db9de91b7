"""The PUSH seam: what happens on the provider when a push transfer starts, stops or resumes.

The NGSI-LD subscriptions engine implements :class:`PushProvisioner` (create a subscription
notifying the consumer's endpoint, pause it, delete it). Until it is mounted the default only
records the consumer's endpoint, which the transfer row keeps as ``data_address``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class PushTransfer:
    transfer_id: str
    agreement_id: str
    consumer_did: str
    dataset_id: str
    endpoint: dict[str, Any]


class PushProvisioner(Protocol):
    async def started(self, transfer: PushTransfer) -> None: ...

    async def stopped(self, transfer_id: str, state: str) -> None: ...


class RecordOnlyPush:
    """No subscription engine yet: the endpoint is only recorded on the transfer."""

    async def started(self, transfer: PushTransfer) -> None:
        return None

    async def stopped(self, transfer_id: str, state: str) -> None:
        return None
