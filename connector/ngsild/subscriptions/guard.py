"""The policy seam for notifications: a subscription outlives the request that created it, so
the access it was granted may end (agreement expired, transfer suspended, usage exhausted).

If a component puts a :class:`NotificationGuard` at ``ctx.components["ngsild.notification_guard"]``
it is asked before every notification (looked up each time, like the PEP); ``False`` suppresses
the notification. Without a guard, the scope stored at creation is the only limit.
"""

from __future__ import annotations

from typing import Protocol

from connector.ngsild.pep import AccessScope

GUARD = "ngsild.notification_guard"


class NotificationGuard(Protocol):
    async def allow(self, subscription_id: str, owner: str, restriction: AccessScope) -> bool:
        """Whether this subscription may notify now (and e.g. count the use)."""
