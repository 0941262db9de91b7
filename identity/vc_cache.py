"""Cache of credentials whose signature and shape were already verified, keyed by the exact JWT.

Why: holders present the same long-lived VC-JWTs on every call, and signature verification is
most of the cost of a DCP check. Identical bytes verified against the same DID document give
the same answer, so the result is reused for at most ``ttl`` seconds (keep it no longer than
the DID cache TTL, so a key removed from a DID document stops verifying as quickly). Validity
period, status list, trust and holder binding are *not* cached: they are re-checked on every use.

Bounded by entries and by bytes (each entry counted as twice its token: the token and its
decoded payload), least recently used first out, so large presented credentials cannot make it
hold more than ``max_bytes``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from .credentials import VerifiedCredential


class VerifiedCredentialCache:
    def __init__(
        self,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        max_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, VerifiedCredential]] = OrderedDict()
        self._bytes = 0

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    @staticmethod
    def _size(token: str) -> int:
        return 2 * len(token)

    def _drop(self, token: str) -> None:
        if self._entries.pop(token, None) is not None:
            self._bytes -= self._size(token)

    def get(self, token: str) -> VerifiedCredential | None:
        hit = self._entries.get(token)
        if hit is None:
            return None
        if hit[0] <= self._clock():
            self._drop(token)
            return None
        self._entries.move_to_end(token)
        return hit[1]

    def put(self, token: str, credential: VerifiedCredential) -> None:
        size = self._size(token)
        if self._ttl <= 0 or size > self._max_bytes:
            return
        self._drop(token)
        while self._entries and (
            len(self._entries) >= self._max or self._bytes + size > self._max_bytes
        ):
            oldest, _ = self._entries.popitem(last=False)
            self._bytes -= self._size(oldest)
        self._entries[token] = (self._clock() + self._ttl, credential)
        self._bytes += size

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0
