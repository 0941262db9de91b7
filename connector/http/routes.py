"""Typed route declarations: a management route is added together with its description.

A component lists its routes as :class:`Route` values and mounts them with :func:`add_routes`;
the same list is what the OpenAPI document (:mod:`connector.management.openapi`) is generated
from, so a route cannot be served without being documented, nor documented without being served.
The models describe the wire shapes; handlers keep validating requests themselves and build
their answers as before (tests check that real answers conform to the response models).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, TypeAdapter

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: a response shape: a model, or an adapter for a list/union of them
Shape = type[BaseModel] | TypeAdapter[Any]


class View(BaseModel):
    """Base of response models: what an answer holds at least (fields added later are allowed,
    so an older client's document stays true)."""

    model_config = ConfigDict(extra="allow")


@dataclass(frozen=True, eq=False)
class Route:
    """One HTTP route with what a client needs to call it.

    ``status`` is the success status the handler really answers (``also``: others it may
    answer with the same shape). ``errors`` are the Problem statuses it may answer beyond the
    implied ones: 400 with a body or query model, 404 with path parameters, 401 and 403 unless
    the handler is :func:`connector.http.auth.public`. ``media_type`` is the success answer's
    type (``application/json`` unless it streams events or passes a peer's answer on);
    ``example`` an example request body; ``description`` defaults to the handler's
    docstring. Who besides the admin may call it comes from :func:`connector.http.auth.accepts`
    on the handler, as at run time."""

    method: str
    path: str
    handler: Handler
    summary: str
    request: type[BaseModel] | None = None
    response: Shape | None = None
    status: int = 200
    also: tuple[int, ...] = ()
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    query: type[BaseModel] | None = None
    body_required: bool = True
    media_type: str = "application/json"
    example: Any = None
    description: str = ""


#: the routes declared on an application, in the order they were added
DECLARED: web.AppKey[list[Route]] = web.AppKey("agora.routes", list)


def add_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Add ``routes`` to ``app``'s router and to its declarations."""
    declared = app.get(DECLARED)
    if declared is None:
        declared = app[DECLARED] = []
    for route in routes:
        app.router.add_route(route.method, route.path, route.handler)
        declared.append(route)


def declared(app: web.Application) -> list[Route]:
    found = app.get(DECLARED)
    return [] if found is None else list(found)
