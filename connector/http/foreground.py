"""Foreground first: background work of the connector waits for a moment without requests.

A DSP hop is a chain of requests between two connectors, each waiting for the other. The work a
state change leaves behind for later (its provenance records) used to start at once and run
beside the next request of the chain on the same event loop, adding to its latency, while the
same process sat idle a moment later waiting for the peer. Background work that can wait asks
:meth:`Foreground.quiet` first: it goes on once no request is being handled, or after
``max_wait_s`` at the latest, so it is delayed under load, never starved.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Foreground:
    """How many requests this process is handling right now."""

    def __init__(self, max_wait_s: float = 0.25) -> None:
        self.max_wait_s = max_wait_s
        self._active = 0
        self._quiet = asyncio.Event()  # set while nothing is in progress
        self._quiet.set()

    @property
    def active(self) -> int:
        return self._active

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Mark a request as in progress for the duration of the block."""
        self._active += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                self._quiet.set()

    async def quiet(self) -> bool:
        """Wait until no request is in progress (True) or ``max_wait_s`` passed (False)."""
        if self._quiet.is_set():
            return True
        try:
            async with asyncio.timeout(self.max_wait_s):
                await self._quiet.wait()
        except TimeoutError:
            return False
        return True
