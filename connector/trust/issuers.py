"""The trusted-issuers list a verifier consults, fetched from the authority and cached by TTL.

A stale list is kept when the authority cannot be reached: what it removes in the meantime is a
civic member's right to issue consent, while member revocation travels through status lists,
which fail closed. Until a first list arrives nothing is trusted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from identity import IdentityError, TrustedIssuersList

Loader = Callable[[], Awaitable[TrustedIssuersList | None]]


class TrustedIssuersCache:
    def __init__(
        self,
        loader: Loader,
        *,
        ttl: float,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._log = log
        self._clock = clock
        self._current = TrustedIssuersList()
        self._expires = 0.0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._expires = 0.0

    async def current(self) -> TrustedIssuersList:
        if self._clock() < self._expires:
            return self._current
        async with self._lock:
            if self._clock() < self._expires:
                return self._current
            try:
                loaded = await self._loader()
            except (IdentityError, ValueError) as exc:
                self._log.warning("trusted-issuers list unavailable, keeping the last: %s", exc)
                loaded = None
            if loaded is not None:
                self._current = loaded
                self._expires = self._clock() + self._ttl
            return self._current
