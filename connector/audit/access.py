"""How the auditor is let in: HTTP sessions that carry its credentials on every request.

A connector's operator audits its own log with its admin key. An auditor audits anyone's with
DCP: its own connector (``--via``) mints a self-issued ID token for the audited connector's DID
(``POST /api/v1/trust/tokens``), and that connector checks the token and the auditor's
AuditorCredential. Tokens are single-use (their ``jti`` is remembered), so a client middleware
mints a fresh one for every request the ledger client makes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

AUDITOR_SCOPES = ("MembershipCredential", "AuditorCredential")
TIMEOUT = aiohttp.ClientTimeout(total=60)


class AccessError(Exception):
    """The auditor's credentials could not be used (bad key, unreachable connector)."""


@dataclass(frozen=True)
class Access:
    """One of: an admin key, or an auditor connector and its admin key; or nothing."""

    admin_key: str | None = None
    via_url: str | None = None
    via_key: str | None = None
    #: in-process minting (the console auditing from its own connector): audience -> token
    minter: Callable[[str], Awaitable[str]] | None = None

    def describe(self) -> str:
        if self.minter is not None:
            return "DCP tokens minted by this connector"
        if self.via_url:
            return f"DCP tokens minted by the auditor's connector at {self.via_url}"
        if self.admin_key:
            return "the connector's admin key"
        return "no credentials"


class TokenMinter:
    """Asks the auditor's connector for a fresh DCP token for ``audience`` each time."""

    def __init__(self, http: aiohttp.ClientSession, via_url: str, via_key: str) -> None:
        self.http = http
        self.url = via_url.rstrip("/") + "/api/v1/trust/tokens"
        self.key = via_key

    async def token_for(self, audience: str) -> str:
        body = {"audience": audience, "scopes": list(AUDITOR_SCOPES)}
        headers = {"Authorization": f"Bearer {self.key}"}
        try:
            async with self.http.post(self.url, json=body, headers=headers) as resp:
                doc = await resp.json(content_type=None)
                if resp.status != 201 or not isinstance(doc, dict) or "token" not in doc:
                    detail = doc.get("detail") if isinstance(doc, dict) else doc
                    raise AccessError(f"{self.url} answered {resp.status}: {detail}")
                return str(doc["token"])
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise AccessError(f"cannot reach the auditor's connector at {self.url}: {exc}") from exc


def session_for(
    access: Access, audience: str, plain: aiohttp.ClientSession
) -> aiohttp.ClientSession:
    """A session whose every request is authenticated towards the connector of ``audience``.

    ``plain`` (no credentials) is used to mint tokens, so minting never recurses."""
    if access.via_url or access.minter is not None:
        mint = (
            access.minter
            or TokenMinter(plain, access.via_url or "", access.via_key or "").token_for
        )

        async def fresh_token(
            request: aiohttp.ClientRequest, handler: aiohttp.ClientHandlerType
        ) -> aiohttp.ClientResponse:
            request.headers["Authorization"] = f"Bearer {await mint(audience)}"
            return await handler(request)

        return aiohttp.ClientSession(timeout=TIMEOUT, middlewares=(fresh_token,))
    headers = {"Authorization": f"Bearer {access.admin_key}"} if access.admin_key else {}
    return aiohttp.ClientSession(timeout=TIMEOUT, headers=headers)
