"""The web component: public pages, the staff console and their static files.

Mounted on the root application. Every page is server-rendered (Jinja2) from the same module
functions the management API uses; the small scripts in ``static/`` only add live progress.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from connector.http.context import ConnectorContext
from connector.web import audit, authority, console, membership, public
from connector.web.guard import PAGES_KEY, SECRET_KEY
from connector.web.render import Pages
from connector.web.session import secret_for, web_settings

STATIC = Path(__file__).parent / "static"


class WebComponent:
    name = "web"

    def __init__(self) -> None:
        self.pages: Pages | None = None

    async def start(self, ctx: ConnectorContext) -> None:
        ctx.components[self.name] = self

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        cfg = web_settings(ctx.settings)
        if not cfg.enabled:
            return
        self.pages = Pages()
        root[PAGES_KEY] = self.pages
        root[SECRET_KEY] = secret_for(ctx.settings)
        root[console.WEB_SETTINGS] = cfg
        r = root.router
        r.add_get("/", public.home)
        r.add_get("/offerings/{id}", public.offering_page)
        r.add_get("/acquire", public.acquire)
        r.add_get("/transparency", public.transparency)
        r.add_get("/transparency/proofs/{index}", public.proof)
        r.add_static("/static/", STATIC, append_version=False)
        console.add_routes(root)
        audit.add_routes(root)
        membership.add_routes(root)
        authority.add_routes(root)

    async def stop(self) -> None:
        return None
