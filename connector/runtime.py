"""A running connector: storage migrated, components started, HTTP served, and a clean stop."""

from __future__ import annotations

import logging
import re
import socket
from types import TracebackType

from aiohttp import web
from prometheus_client import CollectorRegistry

from connector.components import Component, default_components
from connector.config import Settings, split_listen
from connector.http.app import create_app
from connector.http.context import ConnectorContext, TaskGroup
from connector.http.metrics import metrics_app
from connector.http.server import ProblemRunner
from connector.storage import create_engine, upgrade


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class Connector:
    """One participant's connector. ``async with Connector(settings) as c: …`` serves it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        slug = re.sub(r"[^a-z0-9]+", "-", settings.participant.name.lower()).strip("-")
        self.log = logging.getLogger(f"agora.{slug or 'connector'}")
        self.ctx: ConnectorContext | None = None
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._metrics_runner: web.AppRunner | None = None
        #: the ``server.metrics_listen`` listener's base URL once started (its real port)
        self.metrics_url: str | None = None
        self._components: list[Component] = []
        self._started: list[Component] = []

    @property
    def url(self) -> str:
        return self.settings.public_url

    async def start(self) -> None:
        # Bind first: with port 0 the real port (and so the did:web) must be known before any
        # component signs or publishes anything, and nothing is served until all have started.
        sock = socket.create_server((self.settings.server.host, self.settings.server.port))
        self.settings.server.port = int(sock.getsockname()[1])
        try:
            await self._start_components()
            assert self.app is not None
            self._runner = ProblemRunner(
                self.app,
                access_log=None,
                shutdown_timeout=self.settings.server.shutdown_timeout_s,
                handle_signals=False,
            )
            await self._runner.setup()
            await web.SockSite(self._runner, sock).start()
            await self._start_metrics_listener()
        except BaseException:
            sock.close()
            await self.stop()
            raise
        self.log.info("serving", extra={"url": self.url, "did": self.settings.did})

    async def _start_metrics_listener(self) -> None:
        """Serve /metrics without a key on ``server.metrics_listen``, if the operator set one."""
        if not self.settings.server.metrics_listen:
            return
        assert self.ctx is not None
        host, port = split_listen(self.settings.server.metrics_listen)
        sock = socket.create_server((host, port), family=_family(host))
        try:
            self._metrics_runner = ProblemRunner(
                metrics_app(self.ctx), access_log=None, handle_signals=False
            )
            await self._metrics_runner.setup()
            await web.SockSite(self._metrics_runner, sock).start()
        except BaseException:
            sock.close()
            raise
        bound = int(sock.getsockname()[1])
        self.metrics_url = f"http://{f'[{host}]' if ':' in host else host}:{bound}/metrics"

    async def _start_components(self) -> None:
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
            self._started.append(component)

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish, then release everything."""
        if self._metrics_runner is not None:
            await self._metrics_runner.cleanup()
            self._metrics_runner = None
            self.metrics_url = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for component in reversed(self._started):
            await component.stop()
        self._started = []
        if self.ctx is not None:
            await self.ctx.tasks.close()
            if self.ctx.client is not None:
                await self.ctx.client.close()
            if self.ctx.outbound is not None:
                await self.ctx.outbound.close()
            self.ctx.db.dispose()
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
