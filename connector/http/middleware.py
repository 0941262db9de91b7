"""The root middlewares: request ids, structured access logs, metrics, timeouts, and the single
place where every failure becomes RFC 9457 Problem Details."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from connector.http.context import CTX
from connector.http.problems import Problem, UnreadableBody, problem_for_status
from connector.storage.unavailable import is_storage_unavailable

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_label(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CTX]
    request_id = request.headers.get("X-Request-Id") or secrets.token_hex(16)
    started = time.perf_counter()
    status = 500
    try:
        with ctx.foreground.handling():
            response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    finally:
        elapsed = time.perf_counter() - started
        ctx.components["metrics"].observe(request.method, _route_label(request), status, elapsed)
        if ctx.log.isEnabledFor(logging.INFO):  # the record's fields cost even when filtered
            ctx.log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )


#: The request's time budget (an ``asyncio.Timeout``), for :func:`open_ended`.
BUDGET = web.RequestKey("agora.request_budget", asyncio.Timeout)


def open_ended(request: web.Request) -> None:
    """Lift the request's time budget: for a stream the client keeps open on purpose
    (server-sent events), which the budget would otherwise cut mid-chunk. Call it once the
    response is prepared, so a handler that stalls before answering is still abandoned."""
    budget = request.get(BUDGET)
    if budget is not None:
        budget.reschedule(None)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CTX]
    try:
        limit = ctx.settings.server.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return _too_large(request, limit)
        async with asyncio.timeout(ctx.settings.server.request_timeout_s) as budget:
            request[BUDGET] = budget
            return await handler(request)
    except Problem as problem:
        return problem.response(instance=request.path)
    except UnreadableBody as exc:
        return Problem(400, "Bad Request", detail=exc.reason).response(instance=request.path)
    except RequestPayloadError as exc:
        # a handler read the body itself; as connector.http.problems.read_body_bytes says
        cause = exc.__cause__ or exc
        return Problem(
            400, "Bad Request", detail=f"the request body cannot be read: {_first_line(cause)}"
        ).response(instance=request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        detail = None
        if exc.status == 413:
            detail = f"the body exceeds the limit of {ctx.settings.server.max_body_bytes} bytes"
        elif exc.status == 404:
            detail = f"no resource at {request.path}"
        elif exc.status == 405:
            detail = f"{request.method} is not allowed on {request.path}"
        response = problem_for_status(exc.status, detail or exc.text or None).response(
            instance=request.path
        )
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except TimeoutError:
        return Problem(
            503, "Service Unavailable", detail="the request took too long and was abandoned"
        ).response(instance=request.path)
    except ConnectionResetError:
        raise
    except Exception as exc:
        if is_storage_unavailable(exc):
            ctx.log.warning("storage unavailable on %s %s: %s", request.method, request.path, exc)
            response = Problem(
                503,
                "Service Unavailable",
                detail="the database cannot serve the request now; retry shortly",
            ).response(instance=request.path)
            response.headers["Retry-After"] = "1"
            return response
        ctx.log.exception("unhandled error on %s %s", request.method, request.path)
        return Problem(
            500, "Internal Server Error", detail="an unexpected error occurred; see the logs"
        ).response(instance=request.path)


def _too_large(request: web.Request, limit: int) -> web.Response:
    """413 on the declared length alone, before any byte of the body is read; the connection
    is closed rather than drained of a body that may never end."""
    response = Problem(
        413,
        "Content Too Large",
        detail=f"the declared body of {request.content_length} bytes exceeds the limit of "
        f"{limit} bytes",
    ).response(instance=request.path)
    response.force_close()
    return response


def _first_line(exc: BaseException) -> str:
    """The reason of an aiohttp payload error ("400, message:" then the reason on its own line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:200] if lines else type(exc).__name__
