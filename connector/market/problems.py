"""Marketplace refusals as RFC 9457 Problems, and request bodies read with exact numbers."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from connector.http.problems import Problem
from marketplace.errors import LifecycleError, MarketplaceError
from marketplace.numbers import loads

TYPE_BASE: Final = "https://w3id.org/agora/problems/marketplace#"


def problem(exc: MarketplaceError) -> Problem:
    """400 for bad input; 409 for a lifecycle move the offering's state does not allow."""
    status = 409 if isinstance(exc, LifecycleError) and exc.field in ("lifecycle", "plans") else 400
    extensions: dict[str, Any] = {"field": exc.field}
    if exc.expected is not None:
        extensions["expected"] = exc.expected
        extensions["found"] = (
            exc.found if isinstance(exc.found, str | int | None) else str(exc.found)
        )
    return Problem(
        status,
        "Conflict" if status == 409 else "Bad Request",
        detail=str(exc),
        type_=TYPE_BASE + type(exc).__name__,
        **extensions,
    )


async def read_exact_json(request: web.Request) -> Any:
    """The body as JSON with non-integer numbers as Decimals (money is never a float)."""
    raw = await request.read()
    if not raw:
        raise Problem(400, "Bad Request", detail="the request body is empty; JSON expected")
    try:
        return loads(raw)
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", detail="the request body is not UTF-8") from None
    except ValueError as exc:
        raise Problem(400, "Bad Request", detail=f"malformed JSON: {exc}") from None
