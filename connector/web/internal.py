"""The management API's own handlers, called in-process on behalf of a signed-in person.

The console must not be a second path to the data: where a management operation lives only
as an aiohttp handler (datasets, negotiations, transfers, remote catalogs) it is called here
with a JSON body, after the console's own authentication and CSRF check, so that the same
validation, transaction and Problem apply. The answer is returned as parsed JSON.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from connector.http import safe_json
from connector.management.api import MANAGEMENT_APP

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def call(
    root: web.Application,
    handler: Handler,
    *,
    method: str = "GET",
    path: str = "/",
    body: Any = None,
    match: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """Run ``handler`` of the management app with ``body`` as its JSON; raises its Problem."""
    headers = dict(headers or {})
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = make_mocked_request(
        method, "/api/v1" + path, headers=headers, match_info=match or {}, app=root[MANAGEMENT_APP]
    )
    if body is not None:
        request._read_bytes = json.dumps(body).encode()  # the body, as read_body_bytes reads it
    response = await handler(request)
    status = response.status
    if not isinstance(response, web.Response) or not response.body:
        return Answer(status, None)
    raw = response.body
    try:
        return Answer(status, safe_json.loads(raw if isinstance(raw, bytes) else str(raw).encode()))
    except ValueError:
        return Answer(status, None)


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
