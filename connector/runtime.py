"""A running connector: storage migrated, components started, HTTP served, and a clean stop."""

from __future__ import annotations

import logging
import re
from types import TracebackType
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from connector.components import Component, default_components
from connector.config import Settings
from connector.http.app import create_app
from connector.http.context import ConnectorContext, TaskGroup
from connector.storage import create_engine, upgrade


class Connector:
    """One participant's connector. ``async with Connector(settings) as c: …`` serves it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        slug = re.sub(r"[^a-z0-9]+", "-", settings.participant.name.lower()).strip("-")
        self.log = logging.getLogger(f"agora.{slug or 'connector'}")
        self.ctx: ConnectorContext | None = None
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._components: list[Component] = []

    @property
    def url(self) -> str:
        return self.settings.public_url

    async def start(self) -> None:
        engine = create_engine(
            self.settings.database_url, pool_size=self.settings.storage.pool_size
        )
        try:
            await upgrade(engine)
        except Exception:
            await engine.dispose()
            raise
        self.ctx = ConnectorContext(
            settings=self.settings,
            engine=engine,
            registry=CollectorRegistry(),
            log=self.log,
            tasks=TaskGroup(self.log),
        )
        self._components = default_components(self.ctx)
        self.app = create_app(self.ctx, self._components)
        for component in self._components:
            await component.start(self.ctx)
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            shutdown_timeout=self.settings.server.shutdown_timeout_s,
            handle_signals=False,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.server.host, self.settings.server.port)
        await site.start()
        if self.settings.server.port == 0:  # an ephemeral port: publish the real one
            server: Any = site._server
            self.settings.server.port = int(server.sockets[0].getsockname()[1])
        self.log.info("serving", extra={"url": self.url, "did": self.settings.did})

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, then release everything."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for component in reversed(self._components):
            await component.stop()
        if self.ctx is not None:
            await self.ctx.tasks.close()
            if self.ctx.client is not None:
                await self.ctx.client.close()
            await self.ctx.engine.dispose()
            self.ctx = None
        self.log.info("stopped")

    async def __aenter__(self) -> Connector:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
