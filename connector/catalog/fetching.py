"""The crawler's only way out: the SSRF-guarded client, with our DCP token on each request.

Kept in one place so that the guard (identity.http_guard.GuardedHttp, the trust layer's
policy: allowed hosts, no private addresses, no redirects) and the size and time bounds apply
to every catalog page the crawler reads.
"""

from __future__ import annotations

import dataclasses

from connector.dsp.auth import TokenIssuer
from connector.dsp.messages import DSP_CONTEXT
from identity import FetchPolicy, Reason, ResolutionError
from identity.http_guard import GuardedHttp
from marketplace.catalog.crawler import FetchFailed, Page, Target
from marketplace.catalog.errors import Why

CATALOG_REQUEST = {"@context": [DSP_CONTEXT], "@type": "CatalogRequestMessage"}


class GuardedFetch:
    def __init__(
        self, policy: FetchPolicy, issuer: TokenIssuer, *, max_bytes: int, timeout_s: float
    ) -> None:
        self.http = GuardedHttp(dataclasses.replace(policy, max_bytes=max_bytes, timeout=timeout_s))
        self.issuer = issuer

    async def __call__(self, url: str, target: Target, etag: str | None) -> Page:
        headers = {"Authorization": f"Bearer {await self.issuer.token_for(target.did)}"}
        if etag:
            headers["If-None-Match"] = etag
        try:
            status, body, answer = await self.http.request(
                "POST",
                url,
                json_body=CATALOG_REQUEST,
                headers=headers,
                error_reason=Reason.DID_UNRESOLVABLE,
            )
        except ResolutionError as exc:
            reason = {
                Reason.TOKEN_TOO_LARGE: Why.TOO_LARGE,
                Reason.HOST_NOT_ALLOWED: Why.REFUSED_URL,
            }.get(exc.reason, Why.UNREACHABLE)
            if "TimeoutError" in exc.detail:
                reason = Why.TIMEOUT
            raise FetchFailed(reason, exc.detail[:500]) from None
        wanted = {k: answer[k] for k in ("ETag", "Link") if k in answer}
        return Page(status, body, wanted)

    async def close(self) -> None:
        await self.http.close()
