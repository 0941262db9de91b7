"""Request bodies in a content coding we do not decode are refused before a byte is read.

aiohttp decodes gzip, deflate, br and zstd request bodies inside its HTTP parser and passes any
other coding through undecoded. Two of those paths hurt a server facing the network: a deflate
body cut short makes the parser fail after the handler started reading, so that read never ends
(the request holds its connection until the request timeout); and a body in an unknown coding
reaches the JSON parser as if it were plain. Only ``gzip`` (and ``identity``) are accepted —
what HTTP clients send in practice — and everything else is answered 415 with the codings we do
accept (RFC 9110 §15.5.16, §12.5.3), on a connection that is then closed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from connector.http.problems import Problem

ACCEPTED = frozenset({"gzip", "identity"})


@web.middleware
async def accepted_encodings(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    coding = request.headers.get(hdrs.CONTENT_ENCODING)
    if coding is not None and coding.strip().lower() not in ACCEPTED:
        raise Problem(
            415,
            "Unsupported Media Type",
            detail=f"Content-Encoding {coding[:40]!r} is not accepted; send the body as it is "
            "or gzip-compressed",
            headers={"Accept-Encoding": "gzip", "Connection": "close"},
        )
    return await handler(request)
