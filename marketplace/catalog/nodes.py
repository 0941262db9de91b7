"""A crawled node's health: online, offline, dead, with backoff between attempts.

A node is ``online`` after a successful crawl; a failure makes it ``offline`` (its last good
entries stay searchable) and pushes the next attempt back exponentially; after
``dead_after`` consecutive failures it is ``dead`` and tried only at the longest interval.
A success from any state brings it back online.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

ONLINE, OFFLINE, DEAD, NEW = "online", "offline", "dead", "new"
STATES = (NEW, ONLINE, OFFLINE, DEAD)


@dataclass(frozen=True)
class Backoff:
    base_s: float = 30.0
    max_s: float = 3600.0
    dead_after: int = 5

    def delay(self, failures: int) -> float:
        return min(self.max_s, self.base_s * 2 ** max(0, failures - 1))


@dataclass(frozen=True)
class NodeStatus:
    did: str
    url: str
    state: str = NEW
    failures: int = 0
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    next_attempt: datetime | None = None
    etag: str | None = None
    modified: str | None = None
    datasets: int = 0
    refused: int = 0

    def succeeded(
        self,
        now: datetime,
        *,
        period_s: float,
        datasets: int,
        refused: int,
        etag: str | None,
        modified: str | None,
        note: str | None = None,
    ) -> NodeStatus:
        """Online; ``note`` keeps the reason some entries were refused (the node is marked)."""
        return replace(
            self,
            state=ONLINE,
            failures=0,
            last_success=now,
            last_error=note,
            last_error_at=now if note else self.last_error_at,
            next_attempt=now + timedelta(seconds=period_s),
            etag=etag,
            modified=modified,
            datasets=datasets,
            refused=refused,
        )

    def unchanged(self, now: datetime, *, period_s: float) -> NodeStatus:
        """The node answered 304 / same dct:modified: online, entries kept as they are."""
        return replace(
            self,
            state=ONLINE,
            failures=0,
            last_success=now,
            next_attempt=now + timedelta(seconds=period_s),
        )

    def failed(self, now: datetime, reason: str, backoff: Backoff) -> NodeStatus:
        failures = self.failures + 1
        return replace(
            self,
            state=DEAD if failures >= backoff.dead_after else OFFLINE,
            failures=failures,
            last_error=reason[:1000],
            last_error_at=now,
            next_attempt=now + timedelta(seconds=backoff.delay(failures)),
        )

    def due(self, now: datetime) -> bool:
        return self.next_attempt is None or self.next_attempt <= now
