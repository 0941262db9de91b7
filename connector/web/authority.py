"""The authority's console page: membership requests to approve or reject, members to suspend,
reinstate or revoke — the trust layer's :class:`~connector.trust.authority.Authority` itself."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connector.http.context import CTX
from connector.http.problems import Problem
from connector.trust.authority import Authority
from connector.web.console import render
from connector.web.guard import FORM, form, page, refuse

ACTIONS = ("approve", "reject", "suspend", "reinstate", "revoke")


def _authority(request: web.Request) -> Authority | None:
    trust = request.app[CTX].components.get("trust")
    if trust is None or not getattr(trust, "is_authority", False):
        return None
    return Authority(trust)


async def _view(request: web.Request, authority: Authority, error: str | None = None) -> Any:
    return render(
        request,
        "console/authority.html",
        status=409 if error else 200,
        requests=await authority.list_requests("pending"),
        members=await authority.registry.list(active_only=False),
        error=error,
    )


@page("viewer")
async def authority_page(request: web.Request) -> web.Response:
    authority = _authority(request)
    if authority is None:
        return refuse(request, "this connector is not the data space's authority", 404)
    return await _view(request, authority)


@form("admin")
async def act(request: web.Request) -> web.Response:
    authority = _authority(request)
    action = request.match_info["action"]
    subject = request[FORM].get("subject", "")  # a DID in a path would lose its %3A
    if authority is None or action not in ACTIONS or len(subject) > 500:
        raise web.HTTPNotFound()
    try:
        if action == "approve":
            await authority.approve(subject)
        elif action == "reject":
            await authority.reject(subject, request[FORM].get("reason", "")[:500])
        else:
            await getattr(authority, action)(subject)
    except Problem as exc:
        return await _view(request, authority, exc.detail or exc.title)
    raise web.HTTPSeeOther("/console/authority")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/authority", authority_page)
    app.router.add_post("/console/authority/{action}", act)
