"""The data plane of datasets served from a plain HTTP source (``connector.dsp.http_source``).

``GET /data/v1/datasets/{datasetId}`` with the transfer's access token (the endpoint of an
``HttpData-PULL`` data address) goes through the same PEP as an NGSI-LD request (grant, state
check, agreement decision, counters, provenance record; unlike a broker query, the counters and
state are settled before the upstream is asked, since asking it costs someone else's server),
then fetches the upstream through the
guarded outbound client, bounded in size, with the upstream's own secret, which the consumer
never sees. The upstream's answer is passed on (status 200 only; anything else is a 502 that
names the upstream's status, not its body), with its ``Content-Type`` or the dataset's
``mediaType``. The record's response hash covers the SHA-256 of the bytes served.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import select

from connector.dsp.http_source import PATH_PREFIX, HttpSource, parse
from connector.dsp.tables import datasets
from connector.enforcement.access import ACCESS_KEY
from connector.enforcement.pep import SOURCE_OPERATION
from connector.http.context import CTX
from connector.http.problems import Problem
from connector.outbound import OutboundError

#: upstream headers passed on to the consumer (never cookies or the upstream's auth challenges)
PASSED = ("Content-Type", "Content-Language", "Last-Modified", "ETag")
UPSTREAM_SECONDS = 30.0
log = logging.getLogger("agora.enforcement.http_data")


async def get_source(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    pep = ctx.components["ngsild.pep"]
    # the PEP first: an unauthenticated caller learns nothing about which datasets exist
    scope = await pep.scope_for(request, SOURCE_OPERATION, None)
    access = request.get(ACCESS_KEY)
    if access is not None:  # counters and state settled before anyone else's server is asked
        await pep.settle(request, access)
    ds_id = request.match_info["datasetId"]
    async with ctx.db.connect() as conn:
        raw = (await conn.execute(select(datasets.c.source).where(datasets.c.id == ds_id))).scalar()
    if not raw:
        summary: dict[str, Any] = {"status": 404}
        await pep.after(request, SOURCE_OPERATION, scope, summary)
        raise Problem(404, "Not Found", detail=f"no dataset {ds_id} served from an HTTP source")
    source = parse(raw)
    try:
        status, body, headers = await _fetch(ctx, source, request)
    except OutboundError as exc:
        # the consumer is not told the upstream's address: the operator's log has it
        log.warning("HTTP source of %s failed: %s", ds_id, exc.detail)
        await pep.after(request, SOURCE_OPERATION, scope, {"status": 502})
        too_large = " answers over " in exc.detail
        raise Problem(
            502,
            "Bad Gateway",
            detail=f"the dataset's answer exceeds its limit of {source.max_bytes} bytes"
            if too_large
            else "the dataset's upstream did not answer",
        ) from None
    if status != 200:
        await pep.after(request, SOURCE_OPERATION, scope, {"status": 502, "upstream": status})
        raise Problem(502, "Bad Gateway", detail=f"the dataset's upstream answered {status}")
    await pep.after(
        request,
        SOURCE_OPERATION,
        scope,
        {"status": 200, "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()},
    )
    out = {k: headers[k] for k in PASSED if k in headers}
    if source.media_type:
        out["Content-Type"] = source.media_type
    out.setdefault("Content-Type", "application/octet-stream")
    return web.Response(status=200, body=body, headers=out)


async def _fetch(ctx: Any, source: HttpSource, request: web.Request) -> tuple[int, bytes, Any]:
    headers = {"Accept": request.headers.get("Accept", "*/*")}
    if source.authorization:
        headers["Authorization"] = source.authorization
    params = dict(request.query) if source.forward_query else None
    fetched = await ctx.peers().request(
        "GET",
        source.url,
        headers=headers,
        params=params,
        seconds=UPSTREAM_SECONDS,
        max_bytes=source.max_bytes,
    )
    return fetched.status, fetched.body, fetched.headers


def add_routes(root: web.Application) -> None:
    root.router.add_get(PATH_PREFIX + "{datasetId}", get_source)
