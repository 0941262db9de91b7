"""RFC 9457 Problem Details: the one shape every failure of the connector takes on the wire."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from connector.http import safe_json

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An HTTP failure to answer as Problem Details (RFC 9457 §3).

    Components raise it (or a subclass with its own ``content_type``/``body``, such as the DSP
    error message) and the error middleware renders it; handlers never build error bodies.
    """

    content_type = PROBLEM_JSON

    def __init__(
        self,
        status: int,
        title: str,
        *,
        detail: str | None = None,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status}
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        doc.update(self.extensions)
        return doc

    def response(self, instance: str | None = None) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(instance)),
            content_type=self.content_type,
            headers=self.headers,
        )


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def problem_for_status(status: int, detail: str | None = None) -> Problem:
    return Problem(status, _TITLES.get(status, "Error"), detail=detail)


async def read_json(request: web.Request) -> Any:
    """The request body as JSON, or a 400 Problem saying why it is refused (see
    :func:`connector.http.safe_json.loads`: malformed, too deep, numbers JSON cannot carry)."""
    try:
        raw = await read_body_bytes(request)
    except UnreadableBody as exc:
        raise Problem(400, "Bad Request", detail=exc.reason) from None
    if not raw:
        raise Problem(400, "Bad Request", detail="the request body is empty; JSON expected")
    try:
        return safe_json.loads(raw)
    except safe_json.UnsafeJson as exc:
        raise Problem(400, "Bad Request", detail=exc.reason) from None


class UnreadableBody(Exception):
    """The body could not be read as sent (a Content-Encoding it is not in, a broken chunked
    encoding); ``reason`` is aiohttp's. Routes with their own error shape catch it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def read_body_bytes(request: web.Request) -> bytes:
    """``request.read()``, with aiohttp's payload errors as :class:`UnreadableBody` (a 400 Problem
    where the caller does not map it; the 413 for a body over the limit stays aiohttp's)."""
    try:
        return await request.read()
    except RequestPayloadError as exc:
        lines = [line.strip() for line in str(exc.__cause__ or exc).splitlines() if line.strip()]
        reason = f"the request body cannot be read: {lines[-1][:200] if lines else 'broken'}"
        raise UnreadableBody(reason) from None
