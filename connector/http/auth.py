"""Who is calling: the participant's own applications (admin key) or another principal.

Later components (agreement tokens on the data plane, auditor credentials on the ledger API)
register further authenticators; each route says which principal kinds it accepts.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from connector.http.context import CTX
from connector.http.problems import Problem


@dataclass(frozen=True)
class Principal:
    kind: str  # "admin", "agreement", "auditor", …
    subject: str
    claims: dict[str, Any] = field(default_factory=dict)


ADMIN = "admin"
Authenticator = Callable[[web.Request, str], Awaitable[Principal | None]]
AUTHENTICATORS: web.AppKey[list[Authenticator]] = web.AppKey("agora.authenticators", list)
PRINCIPAL_KEY: web.RequestKey[Principal] = web.RequestKey("agora.principal", Principal)

H = TypeVar("H", bound=Callable[..., Any])


def accepts(*kinds: str) -> Callable[[H], H]:
    """Mark a handler as open to principals other than the admin."""

    def mark(handler: H) -> H:
        handler.__agora_accepts__ = frozenset(kinds) | {ADMIN}  # type: ignore[attr-defined]
        return handler

    return mark


def public(handler: H) -> H:
    """Mark a handler as open to anyone, without credentials (the API's own description)."""
    handler.__agora_public__ = True  # type: ignore[attr-defined]
    return handler


def is_public(handler: Any) -> bool:
    return bool(getattr(handler, "__agora_public__", False))


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("X-Api-Key") or None


def is_admin_key(request: web.Request, token: str) -> bool:
    expected = request.app[CTX].settings.security.admin_key_sha256
    given = hashlib.sha256(token.encode()).hexdigest()
    return hmac.compare_digest(expected, given)


async def authenticate(request: web.Request) -> Principal | None:
    token = bearer_token(request)
    if token is None:
        return None
    if is_admin_key(request, token):
        return Principal(ADMIN, request.app[CTX].settings.did)
    for authenticator in request.app.get(AUTHENTICATORS, []):
        principal = await authenticator(request, token)
        if principal is not None:
            return principal
    return None


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL_KEY]


async def require(request: web.Request, allowed: frozenset[str]) -> Principal:
    """The caller if it is one of the ``allowed`` kinds; 401 without credentials, else 403."""
    found = await authenticate(request)
    if found is None:
        raise Problem(
            401,
            "Unauthorized",
            detail="send the admin API key as 'Authorization: Bearer <key>' or 'X-Api-Key'",
            headers={"WWW-Authenticate": 'Bearer realm="agora"'},
        )
    if found.kind not in allowed:
        detail = f"a {found.kind} principal may not use this route"
        if "auditor" in allowed and found.kind == "participant":
            detail = (
                f"{found.subject} is a member but presented no AuditorCredential: auditing needs"
                " one, issued by the data-space authority to the auditor's connector (request"
                " it with role 'auditor' when joining), or use the audited connector's own"
                " admin key"
            )
        raise Problem(403, "Forbidden", detail=detail)
    request[PRINCIPAL_KEY] = found
    return found


@web.middleware
async def require_principal(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Guard a sub-application: only the admin, unless the route accepts other kinds."""
    route_handler = request.match_info.route.handler
    if is_public(route_handler):
        return await handler(request)
    await require(request, getattr(route_handler, "__agora_accepts__", frozenset({ADMIN})))
    return await handler(request)
