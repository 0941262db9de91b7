"""Replay protection for ``jti`` values of self-issued ID tokens.

A Protocol so a multi-replica connector can back it with its database; the in-memory version
serves a single process and the tests. Entries live until the token they came from expires.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from typing import Protocol


class ReplayCache(Protocol):
    async def remember(self, jti: str, expires_at: float) -> bool:
        """Record ``jti``; return False if it was already seen (and has not expired)."""
        ...


class InMemoryReplayCache:
    """Bounded in-process cache; refuses new entries rather than forgetting live ones."""

    def __init__(
        self, max_entries: int = 1_000_000, clock: Callable[[], float] = time.time
    ) -> None:
        self._seen: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []
        self._max = max_entries
        self._clock = clock

    def _purge(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            expires, jti = heapq.heappop(self._heap)
            if self._seen.get(jti) == expires:
                del self._seen[jti]

    async def remember(self, jti: str, expires_at: float) -> bool:
        now = self._clock()
        self._purge(now)
        if jti in self._seen:
            return False
        if len(self._seen) >= self._max:
            return False  # fail closed: better to refuse than to accept a possible replay
        self._seen[jti] = expires_at
        heapq.heappush(self._heap, (expires_at, jti))
        return True
