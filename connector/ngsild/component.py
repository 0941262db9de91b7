"""The NGSI-LD broker as a connector component, served under ``/ngsi-ld/v1``.

What it puts in ``ctx.components`` for others:

* ``"ngsild.broker"`` - :class:`connector.ngsild.service.Broker` (store + change feed);
* ``"ngsild.events"`` - :class:`connector.ngsild.events.ChangeFeed` to subscribe to changes;
* ``"ngsild.remote_contexts"`` - :class:`connector.ngsild.remote_context.RemoteContexts` when
  the operator allows remote @context URLs (subscriptions compile theirs with it);
* ``"ngsild.pep"`` - the :class:`connector.ngsild.pep.PolicyEnforcementPoint`, looked up on every
  request, so the policy component can replace the default (admin only) at any time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from connector.http.context import CTX, ConnectorContext
from connector.ngsild.api import batch, discovery, entities, purge
from connector.ngsild.api.query_names import check_query_names, index_routes
from connector.ngsild.errors import NgsiError, bad_data, not_found
from connector.ngsild.events import ChangeFeed
from connector.ngsild.pep import AdminOnlyPep
from connector.ngsild.proxy.settings import ngsild_settings, proxy_mode
from connector.ngsild.remote_context import RemoteContexts, middleware
from connector.ngsild.service import Broker
from connector.ngsild.store import Store

PREFIX = "/ngsi-ld/v1"
BODY_METHODS = frozenset({"POST", "PATCH", "PUT"})


@web.middleware
async def ngsi_not_found(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Unknown paths under the prefix are NGSI-LD ResourceNotFound problems; unknown query
    parameters of a known operation are InvalidRequest. A POST, PATCH or PUT without
    Content-Length (e.g. chunked) is a bare 411 (§6.3.4), decided before anything else."""
    if request.method in BODY_METHODS and request.content_length is None:
        return web.Response(status=411)
    try:
        check_query_names(request)
        return await handler(request)
    except web.HTTPNotFound:
        if "//" in request.path:  # /entities//attrs: the identifier is missing, not unknown
            raise bad_data(f"{request.path} has an empty identifier segment") from None
        raise not_found(f"no NGSI-LD resource at {request.path}") from None
    except web.HTTPMethodNotAllowed as exc:
        if request.path.endswith("/") and request.method in ("PUT", "PATCH"):
            # PUT /entities/: an item operation whose identifier is missing
            raise bad_data(f"{request.method} {request.path}: the identifier is missing") from None
        raise NgsiError(
            "InvalidRequest",
            f"{request.method} is not allowed on {request.path}",
            status=405,
            headers={"Allow": ",".join(sorted(exc.allowed_methods))},
        ) from None


def add_slash_aliases(app: web.Application) -> None:
    """Answer every resource also with a trailing slash (``/entities/``, ``/subscriptions/``).

    The specification's resource tables and the ETSI conformance suite address collections that
    way. Extra routes, not a rewriting middleware, so the usual path costs nothing more; a
    method a slashed route already has keeps its own handler.
    """
    methods: dict[str, set[str]] = {}
    for res in app.router.resources():
        methods.setdefault(res.canonical, set()).update(r.method for r in res)
    for res in list(app.router.resources()):
        path = res.canonical
        if path.endswith("/"):
            continue
        taken = methods.setdefault(path + "/", set())
        for route in list(res):
            if route.method not in taken:
                app.router.add_route(route.method, path + "/", route.handler)
                taken.add(route.method)


class NgsiLdBroker:
    name = "ngsild"

    def __init__(self) -> None:
        self.feed = ChangeFeed()
        self.store: Store | None = None
        self.remote: RemoteContexts | None = None

    async def start(self, ctx: ConnectorContext) -> None:
        return None

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        if proxy_mode(ctx.settings):
            return  # connector.ngsild.proxy serves /ngsi-ld/v1 from the upstream broker
        self.store = Store(ctx.engine)
        ctx.components["ngsild.broker"] = Broker(self.store, self.feed)
        ctx.components["ngsild.events"] = self.feed
        ctx.components.setdefault("ngsild.pep", AdminOnlyPep())
        conf = ngsild_settings(ctx.settings)
        middlewares = [ngsi_not_found]
        if conf.context_allow:
            self.remote = RemoteContexts(
                conf.context_allow,
                timeout_s=conf.context_timeout_s,
                max_bytes=conf.context_max_bytes,
                cache_size=conf.context_cache_size,
                ttl_s=conf.context_cache_ttl_s,
                allow_loopback=conf.context_allow_loopback,
                allow_private=conf.context_allow_private,
            )
            middlewares.append(middleware(self.remote))
            ctx.components["ngsild.remote_contexts"] = self.remote
        app = web.Application(middlewares=middlewares)
        app[CTX] = ctx
        entities.add_routes(app)
        batch.add_routes(app)
        discovery.add_routes(app)
        purge.add_routes(app)
        # subscriptions and temporal routes (components listed before this one)
        for add_routes in ctx.components.get("ngsild.routes", []):
            add_routes(app)
        add_slash_aliases(app)
        index_routes(app)
        root.add_subapp(PREFIX, app)

    async def stop(self) -> None:
        if self.remote is not None:
            await self.remote.close()
            self.remote = None
        if self.store is not None:
            self.store.close()
            self.store = None
