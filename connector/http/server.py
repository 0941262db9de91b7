"""The HTTP server under the app: aiohttp's, with its own error answers made Problem Details.

aiohttp answers what never reaches the app — a malformed request line, a header over the
limit, a broken chunked encoding, a handler that escaped every middleware — with a text/plain
body. :class:`ProblemRunner` serves the app through a request handler that answers those as
RFC 9457 Problem Details too, with the status that fits (400, 413, 414, 431), so a client sees
one error shape whatever part of the stack refused it.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong, PayloadEncodingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_request import BaseRequest

from connector.http.problems import PROBLEM_JSON, Problem, problem_for_status

#: Longest request line (method, target, version) the parser reads, in bytes (aiohttp's default).
MAX_REQUEST_LINE = 8190
#: Longest header field (name and value) in bytes: room for a DCP token carrying a presentation.
MAX_HEADER_FIELD = 16384
#: Most header fields in one request (aiohttp's default).
MAX_HEADERS = 128


def parser_problem(status: int, exc: BaseException | None) -> Problem:
    """The Problem for an error aiohttp's parser (or its last-resort handler) reports."""
    if isinstance(exc, LineTooLong):
        limit = exc.args[1] if len(exc.args) > 1 else None
        if limit == MAX_HEADER_FIELD:
            return Problem(
                431,
                "Request Header Fields Too Large",
                detail=f"a header field is longer than {MAX_HEADER_FIELD} bytes",
            )
        return Problem(
            414, "URI Too Long", detail=f"the request line is longer than {MAX_REQUEST_LINE} bytes"
        )
    if isinstance(exc, BadHttpMessage):
        # aiohttp's message is the parser's, then the offending bytes and a caret: keep the first
        message = (exc.message if isinstance(exc.message, str) else "").strip()
        message = message.splitlines()[0].rstrip(":") if message else type(exc).__name__
        if "Too many headers" in message:
            return Problem(
                431,
                "Request Header Fields Too Large",
                detail=f"more than {MAX_HEADERS} header fields",
            )
        return Problem(400, "Bad Request", detail=f"malformed HTTP request: {message[:200]}")
    if status == 500:
        return Problem(
            500, "Internal Server Error", detail="an unexpected error occurred; see the logs"
        )
    return problem_for_status(status)


class ProblemRequestHandler(RequestHandler):
    """aiohttp's connection handler; only its error answer differs, and its log of a body it
    could not decode while discarding it."""

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """After an answer that did not read the body (a refusal before the body), aiohttp
        reads and discards the rest; a body whose coding is broken fails there. That is the
        peer's garbage, already answered: a debug line, not a traceback per request that would
        let anyone flood the error log."""
        exc = kw.get("exc_info")
        if isinstance(exc, RequestPayloadError | PayloadEncodingError) and isinstance(
            exc.__cause__ or exc, PayloadEncodingError
        ):
            self.logger.debug("discarded an undecodable request body: %s", exc.__cause__ or exc)
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs, refuses if output started
        problem = parser_problem(status, exc)
        response = web.Response(
            status=problem.status,
            text=json.dumps(problem.body(instance=_path(request, exc))),
            content_type=PROBLEM_JSON,
        )
        response.force_close()
        return response


def _path(request: BaseRequest, exc: BaseException | None) -> str | None:
    """The request's path, unless the parser failed: its request is a placeholder for "/"."""
    if isinstance(exc, BadHttpMessage):
        return None
    return request.path or None


class ProblemServer(web.Server):
    """Makes :class:`ProblemRequestHandler` connections."""

    def __call__(self) -> RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemRunner(web.AppRunner):
    """``web.AppRunner`` serving through :class:`ProblemServer`, with the parser's limits."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE)
        kwargs.setdefault("max_field_size", MAX_HEADER_FIELD)
        kwargs.setdefault("max_headers", MAX_HEADERS)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = ProblemServer  # same state, our handler class
        return server
