"""Membership in the console: the state of this participant's application, the credentials it
holds, and the form to join an authority (the trust layer's own handlers, called in-process)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from connector.http.problems import Problem
from connector.trust import membership as trust_api
from connector.web.console import render
from connector.web.guard import FORM, form, page
from connector.web.internal import call

COUNTRY = re.compile(r"^[A-Z]{2}$")


async def _state(request: web.Request) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    try:
        found = await call(request.app, trust_api.get_membership, path="/membership")
        state = dict(found.data)
    except Problem:
        state = None
    try:
        held = await call(request.app, trust_api.list_credentials, path="/trust/credentials")
        credentials = list(held.data or [])
    except Problem:
        credentials = []
    return state, credentials


async def _view(
    request: web.Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    state, credentials = await _state(request)
    return render(
        request,
        "console/membership.html",
        status=status,
        state=state,
        credentials=credentials,
        errors=errors or {},
        values=values or {},
    )


@page()
async def membership_page(request: web.Request) -> web.Response:
    return await _view(request)


@form("admin")
async def join(request: web.Request) -> web.Response:
    fields = request[FORM]
    authority = fields.get("authority", "").strip()
    country = fields.get("country", "").strip().upper()
    errors: dict[str, str] = {}
    if not authority.startswith(("http://", "https://")) or len(authority) > 2000:
        errors["authority"] = "bad_url"
    if country and not COUNTRY.match(country):
        errors["country"] = "bad_country"
    if errors:
        return await _view(request, errors, fields, status=400)
    body: dict[str, Any] = {"authority": authority}
    if country:
        body["country"] = country
    try:
        await call(request.app, trust_api.apply_for_membership, method="POST", path="/x", body=body)
    except Problem as exc:
        field = "country" if "/country" in (exc.detail or "") else "authority"
        return await _view(request, {field: exc.detail or exc.title}, fields, status=exc.status)
    raise web.HTTPSeeOther("/console/membership")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/membership", membership_page)
    app.router.add_post("/console/membership", join)
