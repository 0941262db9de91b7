"""Proxy mode as a connector component: in ``[ngsild] mode = "proxy"`` it serves the whole of
``/ngsi-ld/v1`` by forwarding to the upstream broker (the embedded broker, subscriptions and
temporal components then stay idle). The PEP seam is the same as the embedded broker's."""

from __future__ import annotations

from aiohttp import web

from connector.http.context import CTX, ConnectorContext
from connector.ngsild.pep import AdminOnlyPep
from connector.ngsild.proxy.forward import PREFIX, SETTINGS, forward
from connector.ngsild.proxy.settings import ngsild_settings


class NgsiLdProxy:
    name = "ngsild.proxy"

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        conf = ngsild_settings(ctx.settings)
        if conf.mode != "proxy":
            return
        ctx.components.setdefault("ngsild.pep", AdminOnlyPep())
        app = web.Application()
        app[CTX] = ctx
        app[SETTINGS] = conf
        app.router.add_route("*", "/{tail:.*}", forward)
        root.add_subapp(PREFIX, app)

    async def start(self, ctx: ConnectorContext) -> None:
        return None

    async def stop(self) -> None:
        return None
