"""Who may open a console page or send its forms: a session, a role, a CSRF token.

``page(role)`` guards a GET (no session: to the sign-in page, saying why); ``form(role)``
guards a POST and also checks the form's CSRF token. A refusal renders a page with status 403
and changes nothing: the check runs before the handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from connector.http.context import CTX
from connector.web import session as sessions
from connector.web import staff
from connector.web.render import Pages

PAGES_KEY: web.AppKey[Pages] = web.AppKey("agora.web.pages.console", Pages)
SECRET_KEY: web.AppKey[bytes] = web.AppKey("agora.web.secret", bytes)
SESSION: web.RequestKey[sessions.Session] = web.RequestKey("agora.web.session", sessions.Session)
FORM: web.RequestKey[dict[str, str]] = web.RequestKey("agora.web.form", dict)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_FIELD = 20_000


async def current(request: web.Request) -> sessions.Session | None:
    found = sessions.read(request.app[SECRET_KEY], request.cookies.get(sessions.COOKIE))
    if found is None:
        return None
    if not await staff.still_valid(request.app[CTX].engine, found.key_id, found.role):
        return None
    return found


def _to_signin(request: web.Request) -> web.HTTPSeeOther:
    why = "expired" if sessions.COOKIE in request.cookies else "signin"
    target = request.path_qs if request.method == "GET" else "/console"
    return web.HTTPSeeOther("/console/signin?" + urlencode({"next": target, "why": why}))


def refuse(request: web.Request, message: str, status: int = 403) -> web.Response:
    return request.app[PAGES_KEY].render(
        request, "error.html", status=status, message=message, **chrome(request)
    )


def chrome(request: web.Request) -> dict[str, Any]:
    """What every console page shows: the person, their role and the form token."""
    found = request.get(SESSION)
    if found is None:
        return {"me": None, "csrf": "", "authority_here": False}
    trust = request.app[CTX].components.get("trust")
    return {
        "me": found,
        "csrf": sessions.csrf_token(request.app[SECRET_KEY], found.sid),
        "authority_here": bool(getattr(trust, "is_authority", False)),
    }


async def read_form(request: web.Request) -> dict[str, str]:
    data = await request.post()
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, str):
            out[key] = value[:MAX_FIELD]
    return out


async def _signed_in(request: web.Request) -> sessions.Session:
    """The request's session, kept on the request; without one, a redirect to sign-in."""
    found = await current(request)
    if found is None:
        raise _to_signin(request)
    request[SESSION] = found
    return found


def page(role: str = "viewer") -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            found = await _signed_in(request)
            if not found.may(role):
                return refuse(request, f"this page needs the {role} role; you are {found.role}")
            try:
                return await handler(request)
            except web.HTTPNotFound:
                return refuse(request, "there is nothing at this address", 404)

        return guarded

    return wrap


def form(role: str = "editor") -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            found = await _signed_in(request)
            fields = await read_form(request)
            if not sessions.csrf_ok(request.app[SECRET_KEY], found.sid, fields.get("csrf")):
                return refuse(request, "the form's security token is missing, stale or forged")
            if not found.may(role):
                return refuse(request, f"this needs the {role} role; you are {found.role}")
            request[FORM] = fields
            return await handler(request)

        return guarded

    return wrap
