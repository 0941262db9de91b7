"""Subscriptions as a connector component.

Its routes join the broker's ``/ngsi-ld/v1`` application through the ``"ngsild.routes"``
hook (so it must be listed before :class:`connector.ngsild.component.NgsiLdBroker`); at start it
loads the stored subscriptions, listens to the broker's change feed and starts its delivery
workers, periodic-notification timer and reload loop in the connector's task group. In proxy
mode the upstream broker handles subscriptions and this component does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from connector.http.context import ConnectorContext
from connector.ngsild.proxy.settings import ngsild_settings
from connector.ngsild.subscriptions import api
from connector.ngsild.subscriptions.delivery import DeliveryPolicy, Notifier, Sender
from connector.ngsild.subscriptions.endpoints import endpoint_rules
from connector.ngsild.subscriptions.guard import GUARD
from connector.ngsild.subscriptions.manager import SubscriptionManager
from connector.ngsild.subscriptions.store import SubscriptionStore

ROUTES = "ngsild.routes"


REMOTE_CONTEXTS = "ngsild.remote_contexts"


class NgsiLdSubscriptions:
    name = "ngsild.subscriptions"

    def __init__(self) -> None:
        self._unsubscribe: Callable[[], None] | None = None
        self._enabled = False

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        if ngsild_settings(ctx.settings).mode != "embedded":
            return
        self._enabled = True
        ctx.components.setdefault(ROUTES, []).append(api.add_routes)

    async def start(self, ctx: ConnectorContext) -> None:
        if not self._enabled:
            return
        conf = ngsild_settings(ctx.settings)
        policy = DeliveryPolicy(
            timeout_s=conf.notification_timeout_s,
            attempts=conf.notification_attempts,
            backoff_s=conf.notification_backoff_s,
            rules=endpoint_rules(ctx.settings),
        )
        store = SubscriptionStore(ctx.engine)
        manager: SubscriptionManager | None = None

        async def record(sub_id: str, ok: bool) -> None:
            assert manager is not None
            await manager.record(sub_id, ok)

        notifier = Notifier(Sender(ctx.peers), policy, record)
        manager = SubscriptionManager(
            store,
            notifier,
            ctx.components["ngsild.broker"],
            lambda: ctx.components.get(GUARD),
            lambda: ctx.components.get(REMOTE_CONTEXTS),
        )
        await manager.reload()
        ctx.components[api.MANAGER] = manager
        self._unsubscribe = ctx.components["ngsild.events"].subscribe(manager.on_change)
        for i in range(conf.notification_workers):
            ctx.tasks.spawn(notifier.worker(), name=f"ngsild-notify-{i}")
        ctx.tasks.spawn(manager.run_periodic(conf.periodic_tick_s), name="ngsild-periodic")
        ctx.tasks.spawn(manager.run_reload(conf.subscription_refresh_s), name="ngsild-subs-reload")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
