"""The application factory: one aiohttp app with every component mounted under its path."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from connector.components import Component
from connector.http.auth import AUTHENTICATORS
from connector.http.context import CTX, ConnectorContext
from connector.http.encodings import accepted_encodings
from connector.http.metrics import HttpMetrics, metrics_handler
from connector.http.middleware import observe, problems
from connector.management.api import MANAGEMENT_APP


async def health(request: web.Request) -> web.Response:
    """Liveness and readiness in one: 200 only while the database answers."""
    ctx = request.app[CTX]
    checks: dict[str, str] = {}
    try:
        async with ctx.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # the probe reports, it does not crash
        checks["database"] = f"failing: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status=200 if healthy else 503,
    )


def create_app(ctx: ConnectorContext, components: list[Component]) -> web.Application:
    app = web.Application(
        middlewares=[observe, problems, accepted_encodings],
        client_max_size=ctx.settings.server.max_body_bytes,
    )
    app[CTX] = ctx
    app[AUTHENTICATORS] = []
    ctx.components["metrics"] = HttpMetrics.create(ctx.registry)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics_handler)
    for component in components:
        component.mount(app, ctx)
    management = app[MANAGEMENT_APP]
    management[AUTHENTICATORS] = app[AUTHENTICATORS]
    app.add_subapp("/api/v1", management)
    return app
