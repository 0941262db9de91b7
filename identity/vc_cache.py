"""Cache of credentials whose signature and shape were already verified, keyed by the exact JWT.

Why: holders present the same long-lived VC-JWTs on every call, and signature verification is
most of the cost of a DCP check. Identical bytes verified against the same DID document give
the same answer, so the result is reused for at most ``ttl`` seconds (keep it no longer than
the DID cache TTL, so a key removed from a DID document stops verifying as quickly). Validity
period, status list, trust and holder binding are *not* cached: they are re-checked on every use.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .credentials import VerifiedCredential


class VerifiedCredentialCache:
    def __init__(
        self,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, VerifiedCredential]] = {}

    def get(self, token: str) -> VerifiedCredential | None:
        hit = self._entries.get(token)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            del self._entries[token]
            return None
        return hit[1]

    def put(self, token: str, credential: VerifiedCredential) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max:
            self._entries.pop(next(iter(self._entries)))
        self._entries[token] = (self._clock() + self._ttl, credential)

    def clear(self) -> None:
        self._entries.clear()
