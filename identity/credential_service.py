"""DCP Credential Service: the verifier-side client and the holder-side query responder.

Flow: the caller puts an access token (minted here by :func:`issue_access_token`, bound to the
callee's DID and the granted scopes) in its ID token's ``token`` claim. The callee posts a
``PresentationQueryMessage`` to the caller's Credential Service, authorised by its own
Self-Issued ID Token that carries that access token (proof of possession, DCP base protocol).
The holder answers with VP-JWTs whose ``aud`` is the callee and whose ``nonce`` is a hash of
the access token, so a presentation cannot be reused for another exchange.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from .credentials import ACCEPTED_VC_TYPS
from .errors import IdentityError, Reason, TokenError
from .http_guard import GuardedHttp, parse_json
from .id_token import MAX_LIFETIME_S, verify_id_token
from .jwt_codec import Limits, check_time_claims, decode_unverified, verify_signature
from .keys import b64url
from .presentations import create_presentation
from .replay import InMemoryReplayCache, ReplayCache
from .resolver import DidResolver
from .signer import Participant

DCP_CONTEXT = "https://w3id.org/dspace-dcp/v1.0/dcp.jsonld"
ACCESS_TYP = "dcp-access+jwt"
VC_TYPE_SCOPE = "org.eclipse.dspace.dcp.vc.type:"
VC_ID_SCOPE = "org.eclipse.dspace.dcp.vc.id:"
MAX_SCOPES = 32


def type_scope(credential_type: str) -> str:
    return VC_TYPE_SCOPE + credential_type


def presentation_nonce(access_token: str) -> str:
    """The VP nonce for an exchange: SHA-256 of the (opaque) access token."""
    return b64url(hashlib.sha256(access_token.encode()).digest())


def query_message(scopes: list[str]) -> dict[str, Any]:
    return {"@context": [DCP_CONTEXT], "type": "PresentationQueryMessage", "scope": list(scopes)}


def bearer(header: str | None) -> str:
    if not header or not header.startswith("Bearer ") or not header[7:].strip():
        raise TokenError(Reason.MALFORMED, "Authorization must be 'Bearer <token>'")
    return header[7:].strip()


def issue_access_token(
    holder: Participant,
    verifier_did: str,
    scopes: list[str],
    *,
    ttl: float = 300.0,
    now: float | None = None,
) -> str:
    """An access token for the holder's own Credential Service (opaque to the verifier)."""
    now = time.time() if now is None else now
    payload = {
        "iss": holder.did,
        "sub": verifier_did,
        "scope": " ".join(scopes),
        "jti": str(uuid.uuid4()),
        "iat": int(now),
        "exp": int(now + ttl),
    }
    return holder.sign(payload, ACCESS_TYP)


class CredentialServiceClient(Protocol):
    async def query(
        self, endpoint: str, authorization: str, message: dict[str, Any]
    ) -> dict[str, Any]:
        """POST ``message`` to ``<endpoint>/presentations/query``; return the response JSON."""
        ...


class AiohttpCredentialServiceClient:
    """The production client, through the SSRF-guarded HTTP client."""

    def __init__(self, http: GuardedHttp) -> None:
        self._http = http

    async def query(
        self, endpoint: str, authorization: str, message: dict[str, Any]
    ) -> dict[str, Any]:
        url = endpoint.rstrip("/") + "/presentations/query"
        status, body = await self._http.request_bytes(
            "POST",
            url,
            json_body=message,
            headers={"Authorization": authorization},
            error_reason=Reason.CREDENTIAL_SERVICE_FAILED,
        )
        if status != 200:
            raise IdentityError(Reason.CREDENTIAL_SERVICE_FAILED, f"{url} answered HTTP {status}")
        data = parse_json(body, Reason.CREDENTIAL_SERVICE_FAILED)
        if not isinstance(data, dict):
            raise IdentityError(Reason.CREDENTIAL_SERVICE_FAILED, "response is not an object")
        return data


@dataclass(frozen=True)
class Authorized:
    """A verifier whose ID token and access token checked out: who, and the scopes granted."""

    verifier: str
    granted: frozenset[str]
    access_token: str


def _query_scopes(message: Any) -> list[str]:
    """The scopes of a PresentationQueryMessage, or why it is not one we answer."""
    if not isinstance(message, dict) or message.get("type") != "PresentationQueryMessage":
        raise IdentityError(Reason.MALFORMED, "expected a PresentationQueryMessage")
    if "presentationDefinition" in message:
        raise IdentityError(Reason.UNSUPPORTED, "presentationDefinition is not supported")
    scopes = message.get("scope")
    if not isinstance(scopes, list) or not scopes or len(scopes) > MAX_SCOPES:
        raise IdentityError(Reason.MALFORMED, "scope must be a non-empty list")
    if not all(isinstance(s, str) for s in scopes):
        raise IdentityError(Reason.MALFORMED, "scopes must be strings")
    return scopes


class PresentationResponder:
    """Holder side: answer a PresentationQueryMessage from stored VC-JWTs.

    The connector serves this at ``POST /presentations/query``; it maps ``IdentityError`` to
    401/403 (and ``UNSUPPORTED`` for presentationDefinition to 501).
    """

    def __init__(
        self,
        holder: Participant,
        credentials: list[str],
        resolver: DidResolver,
        *,
        replay_cache: ReplayCache | None = None,
        vp_ttl: float = 300.0,
        max_token_lifetime: float = MAX_LIFETIME_S,
    ) -> None:
        self.holder = holder
        self._max_lifetime = max_token_lifetime
        self._resolver = resolver
        self._replay = replay_cache or InMemoryReplayCache()
        self._vp_ttl = vp_ttl
        self._credentials: list[tuple[str, dict[str, Any]]] = []
        for token in credentials:
            self.add(token)

    def add(self, vc_jwt: str) -> None:
        """Store a credential (our own, so it is only parsed, not re-verified)."""
        parsed = decode_unverified(vc_jwt, Limits(max_bytes=256 * 1024))
        if parsed.header.get("typ") not in ACCEPTED_VC_TYPS:
            raise TokenError(Reason.MALFORMED, "not a VC-JWT")
        self._credentials.append((vc_jwt, parsed.payload))

    def _check_access_token(self, access_token: str, now: float) -> tuple[str, set[str]]:
        unverified = decode_unverified(access_token, Limits(max_bytes=8 * 1024, max_depth=4))
        if (
            unverified.header.get("typ") != ACCESS_TYP
            or unverified.payload.get("iss") != self.holder.did
        ):
            raise TokenError(Reason.BAD_SIGNATURE, "access token was not issued by this holder")
        method = self.holder.document().key_for(
            unverified.header.get("kid"), "capabilityInvocation"
        )
        verify_signature(unverified, method)
        check_time_claims(unverified.payload, now, 0, require_exp=True, what="access token")
        verifier = unverified.payload.get("sub")
        scope = unverified.payload.get("scope", "")
        if not isinstance(verifier, str) or not isinstance(scope, str):
            raise TokenError(Reason.INVALID_CLAIMS, "access token lacks sub/scope")
        return verifier, set(scope.split())

    def _matches(self, scope: str, payload: dict[str, Any]) -> bool:
        scope = scope.removesuffix(":read")
        if scope.startswith(VC_TYPE_SCOPE):
            return scope[len(VC_TYPE_SCOPE) :] in payload.get("type", [])
        if scope.startswith(VC_ID_SCOPE):
            return payload.get("id") == scope[len(VC_ID_SCOPE) :]
        return False

    async def authenticate(
        self, authorization: str | None, *, now: float | None = None
    ) -> Authorized:
        """Verify the caller's ID token and the access token we minted for it.

        Separate from :meth:`present` so that a server can refuse an anonymous or forged caller
        before it reads the request body."""
        now = time.time() if now is None else now
        claims = await verify_id_token(
            bearer(authorization),
            self._resolver,
            audience=self.holder.did,
            replay_cache=self._replay,
            now=now,
            max_lifetime=self._max_lifetime,
        )
        if claims.access_token is None:
            raise TokenError(Reason.MISSING_ACCESS_TOKEN, "ID token carries no access token")
        verifier, granted = self._check_access_token(claims.access_token, now)
        if verifier != claims.did:
            raise TokenError(Reason.WRONG_AUDIENCE, "access token was granted to another party")
        return Authorized(verifier, frozenset(granted), claims.access_token)

    async def respond(
        self, message: dict[str, Any], authorization: str | None, *, now: float | None = None
    ) -> dict[str, Any]:
        """Verify the caller's ID token and access token, then present the granted credentials."""
        _query_scopes(message)  # a malformed query is refused before the token is spent
        return self.present(message, await self.authenticate(authorization, now=now), now=now)

    def present(
        self, message: Any, caller: Authorized, *, now: float | None = None
    ) -> dict[str, Any]:
        """The PresentationResponseMessage for an authenticated caller: the credentials that
        match the queried scopes, provided the caller's access token grants every one."""
        now = time.time() if now is None else now
        scopes = _query_scopes(message)
        verifier = caller.verifier
        missing = [s for s in scopes if s not in caller.granted]
        if missing:
            raise IdentityError(Reason.SCOPE_NOT_GRANTED, f"scopes not granted: {missing}")
        chosen = [t for t, p in self._credentials if any(self._matches(s, p) for s in scopes)]
        vp = create_presentation(
            self.holder,
            chosen,
            audience=verifier,
            nonce=presentation_nonce(caller.access_token),
            ttl=self._vp_ttl,
            now=now,
        )
        return {
            "@context": [DCP_CONTEXT],
            "type": "PresentationResponseMessage",
            "presentation": [vp],
        }
