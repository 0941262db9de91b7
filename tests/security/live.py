"""Connectors served from an event loop on a thread of their own, for synchronous tests.

schemathesis' pytest integration and hypothesis drive blocking clients (``requests``); running
the connectors on a separate loop lets those tests talk to them over loopback like any peer,
and keeps one pair of connectors for a whole module.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from tests.dsp.helpers import Node, start_node

T = TypeVar("T")


class Background:
    """An event loop on a daemon thread; :meth:`run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class LivePair:
    """A city (provider) and a company (consumer) connector on loopback, SQLite storage."""

    def __init__(self, root: Path) -> None:
        self.bg = Background()
        self._http = self.bg.run(_session())
        self.city: Node = self.bg.run(start_node(root, "city", "city", http=self._http))
        self.company: Node = self.bg.run(start_node(root, "company", "company", http=self._http))

    def token(self, sender: Node, receiver: Node) -> str:
        """A fresh DCP self-issued ID token of ``sender`` for ``receiver`` (jti never repeats)."""
        token: str = self.bg.run(sender.dsp.issuer.token_for(receiver.did))
        return token

    def close(self) -> None:
        try:
            self.bg.run(self.company.connector.stop())
            self.bg.run(self.city.connector.stop())
            self.bg.run(self._http.close())
        finally:
            self.bg.close()


async def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession()
