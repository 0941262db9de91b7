"""Prometheus metrics, one registry per connector so that several can share a process."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest

from connector.http.auth import ADMIN, require
from connector.http.context import CTX, ConnectorContext
from connector.http.middleware import problems


@dataclass
class HttpMetrics:
    requests: Counter
    latency: Histogram
    # labelled children by (method, route, status): labels() validates and locks on every call
    _children: dict[tuple[str, str, int], tuple[Any, Any]] = field(default_factory=dict, repr=False)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its duration."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(method, route, str(status)),
                self.latency.labels(method, route),
            )
        children[0].inc()
        children[1].observe(seconds)

    @classmethod
    def create(cls, registry: CollectorRegistry) -> HttpMetrics:
        return cls(
            requests=Counter(
                "agora_http_requests",
                "HTTP requests answered",
                ["method", "route", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "agora_http_request_duration_seconds",
                "Time to answer an HTTP request",
                ["method", "route"],
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            ),
        )


def _exposition(request: web.Request) -> web.Response:
    body = generate_latest(request.app[CTX].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def metrics_handler(request: web.Request) -> web.Response:
    """/metrics on the main listener: the admin key unless the operator made it public.

    The figures name every route and how often it fails, which maps the deployment for an
    attacker, so they are not public by default."""
    if request.app[CTX].settings.server.metrics_access == "admin":
        await require(request, frozenset({ADMIN}))
    return _exposition(request)


async def _open_metrics(request: web.Request) -> web.Response:
    return _exposition(request)


def metrics_app(ctx: ConnectorContext) -> web.Application:
    """The app of the ``server.metrics_listen`` listener: only /metrics, without a key (the
    address it binds to is the access control), every other path a 404 Problem."""
    app = web.Application(middlewares=[problems], client_max_size=1024)
    app[CTX] = ctx
    app.router.add_get("/metrics", _open_metrics)
    return app
