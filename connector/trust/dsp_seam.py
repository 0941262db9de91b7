"""The trust layer behind DSP's authentication seam (``connector.dsp.auth``).

``TrustCallerAuthenticator`` satisfies ``CallerAuthenticator``: the full DCP check (ID token,
the caller's Credential Service, every credential's signature, status and issuer), mapped to
DSP's ``Caller`` / ``AuthenticationFailed``. ``TrustTokenIssuer`` satisfies ``TokenIssuer``:
a self-issued ID token *with* the access token the callee needs to query our credentials.

Both look the Trust object up at call time, because DSP builds its seam when it is mounted,
before any component has started.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from connector.dsp.auth import AuthenticationFailed, Caller
from connector.http.context import ConnectorContext
from connector.trust.core import DEFAULT_SCOPES, Trust
from identity import IdentityError


def _trust(ctx: ConnectorContext) -> Trust:
    found = ctx.components.get("trust")
    if not isinstance(found, Trust):
        raise RuntimeError("the trust component has not started")
    return found


class TrustCallerAuthenticator:
    def __init__(self, ctx: ConnectorContext, scopes: Sequence[str] = DEFAULT_SCOPES) -> None:
        self.ctx = ctx
        self.scopes = tuple(scopes)

    async def authenticate(self, request: web.Request) -> Caller:
        try:
            caller = await _trust(self.ctx).verify_authorization(
                request.headers.get("Authorization"), self.scopes
            )
        except IdentityError as exc:
            raise AuthenticationFailed(f"{exc.reason.value}: {exc.detail}") from None
        return Caller(
            caller.did,
            tuple(c.payload for c in caller.credentials),
            dict(caller.id_token.payload),
        )


class TrustTokenIssuer:
    def __init__(self, ctx: ConnectorContext, scopes: Sequence[str] = DEFAULT_SCOPES) -> None:
        self.ctx = ctx
        self.scopes = tuple(scopes)

    async def token_for(self, audience_did: str) -> str:
        return await _trust(self.ctx).token_for(audience_did, self.scopes)
