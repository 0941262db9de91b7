"""What a running connector shares with its components: settings, storage, tasks, metrics."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.config import Settings
from connector.http.foreground import Foreground
from connector.outbound import PeerHttp, peer_policy
from connector.storage.inline import Database


class TaskGroup:
    """Background tasks owned by one connector, all cancelled and awaited on shutdown.

    Unlike a bare ``create_task``, nothing outlives the connector and no failure is silent.
    """

    def __init__(self, log: logging.Logger) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._log = log

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._tasks)


@dataclass
class ConnectorContext:
    settings: Settings
    engine: AsyncEngine
    registry: CollectorRegistry
    log: logging.Logger
    tasks: TaskGroup
    client: aiohttp.ClientSession | None = None
    #: the SSRF-guarded client for every URL a peer chose (connector.outbound)
    outbound: PeerHttp | None = None
    components: dict[str, Any] = field(default_factory=dict)
    #: the same database, for many-short-statement transactions (see connector.storage.inline)
    db: Database = field(init=False)
    #: requests in progress; background work waits for a quiet moment (connector.http.foreground)
    foreground: Foreground = field(default_factory=Foreground)

    def __post_init__(self) -> None:
        self.db = Database(self.engine)

    def http(self) -> aiohttp.ClientSession:
        """The plain outgoing client, for operator-configured upstreams only (the NGSI-LD
        proxy): anything a peer chose goes through :meth:`peers`."""
        if self.client is None or self.client.closed:
            self.client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self.client

    def peers(self) -> PeerHttp:
        """The guarded client for URLs a peer chose (created on first use, closed on shutdown)."""
        if self.outbound is None:
            self.outbound = PeerHttp(peer_policy(self.settings))
        return self.outbound


CTX: web.AppKey[ConnectorContext] = web.AppKey("agora.ctx", ConnectorContext)
