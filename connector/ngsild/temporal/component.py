"""The temporal API as a connector component: records every change the broker publishes and
serves ``/ngsi-ld/v1/temporal/entities`` through the broker's routes hook (listed before
:class:`connector.ngsild.component.NgsiLdBroker`). Idle in proxy mode: the upstream broker
keeps its own history."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from connector.http.context import ConnectorContext
from connector.ngsild.proxy.settings import ngsild_settings
from connector.ngsild.temporal import api, instances
from connector.ngsild.temporal.store import TemporalStore

ROUTES = "ngsild.routes"
log = logging.getLogger("agora.ngsild.temporal")


class NgsiLdTemporal:
    name = "ngsild.temporal"

    def __init__(self) -> None:
        self._unsubscribe: Callable[[], None] | None = None
        self._store: TemporalStore | None = None

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        if ngsild_settings(ctx.settings).mode != "embedded":
            return
        self._store = TemporalStore(ctx.engine)
        ctx.components[api.STORE] = self._store
        ctx.components.setdefault(ROUTES, []).extend([api.add_routes, instances.add_routes])

    async def start(self, ctx: ConnectorContext) -> None:
        if self._store is None:
            return
        # Written before the writer's answer, so a client that updates and then reads the
        # history sees its change; one transaction per group-committed broker write when the
        # feed offers whole batches.
        feed = ctx.components["ngsild.events"]
        subscribe_batch = getattr(feed, "subscribe_batch", None)
        in_transaction = getattr(feed, "subscribe_in_transaction", None)
        if in_transaction is not None:  # atomic with the change, no commit of its own
            self._unsubscribe = in_transaction(self._store.record_in)
        elif subscribe_batch is not None:
            self._unsubscribe = subscribe_batch(self._store.record_many)
        else:
            self._unsubscribe = feed.subscribe(self._store.record)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
