"""The callee-side DCP check as one call, and full verification of single credentials.

``DcpVerifier.verify_caller`` is what the connector runs for every DSP request: ID token ->
caller DID document -> Credential Service query -> presentation -> every credential
(signature, validity, status list, trusted issuer, holder binding) -> a typed ``VerifiedCaller``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .credential_service import (
    VC_ID_SCOPE,
    VC_TYPE_SCOPE,
    CredentialServiceClient,
    bearer,
    presentation_nonce,
    query_message,
)
from .credential_types import ConsentCredential, CredentialClaims, parse_claims
from .credentials import (
    VerifiedCredential,
    check_credential_body,
    check_validity,
    issuer_id,
    verify_credential_jwt,
)
from .data_integrity import verify_data_integrity
from .errors import CredentialError, IdentityError, Reason, TokenError
from .id_token import MAX_LIFETIME_S, IdTokenClaims, create_id_token, verify_id_token
from .jwt_codec import DEFAULT_LIMITS, Limits
from .presentations import verify_presentation
from .replay import ReplayCache
from .resolver import DidResolver
from .signer import Participant
from .status_list import StatusBudget, StatusListChecker
from .trusted_issuers import TrustedIssuersList
from .vc_cache import VerifiedCredentialCache

C = TypeVar("C", bound=CredentialClaims)
MAX_PRESENTATIONS = 8
MAX_CREDENTIALS = 32


@dataclass(frozen=True)
class VerifiedCaller:
    """Who called and what their verified credentials say."""

    did: str
    credentials: tuple[VerifiedCredential, ...]
    claims: tuple[CredentialClaims, ...]
    id_token: IdTokenClaims = field(repr=False)

    def types(self) -> set[str]:
        return {t for c in self.credentials for t in c.types}

    def get(self, model: type[C]) -> C | None:
        """First claims of that model, e.g. ``caller.get(ParticipantCredential)``."""
        for claims in self.claims:
            if isinstance(claims, model):
                return claims
        return None


def holder_bound(credential: VerifiedCredential, holder: str) -> bool:
    """The presenter must be the subject; for consent, the party consent was granted to."""
    if credential.subject_id == holder:
        return True
    return credential.has_type(ConsentCredential.credential_type) and (
        credential.subject.get("grantee") == holder
    )


class DcpVerifier:
    def __init__(
        self,
        me: Participant,
        resolver: DidResolver,
        *,
        trusted_issuers: TrustedIssuersList,
        status_checker: StatusListChecker,
        replay_cache: ReplayCache,
        credential_service: CredentialServiceClient,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
        vc_limits: Limits = DEFAULT_LIMITS,
        credential_cache: VerifiedCredentialCache | None = None,
        max_token_lifetime: float = MAX_LIFETIME_S,
    ) -> None:
        self.me = me
        self.resolver = resolver
        self.trusted_issuers = trusted_issuers
        self.status_checker = status_checker
        self.replay_cache = replay_cache
        self.credential_service = credential_service
        self.leeway = leeway
        self.clock = clock
        self.vc_limits = vc_limits
        self.credential_cache = credential_cache or VerifiedCredentialCache()
        self.max_token_lifetime = max_token_lifetime

    async def verify_credential(
        self,
        credential: str | dict[str, Any],
        *,
        holder: str | None,
        now: float | None = None,
        status_budget: StatusBudget | None = None,
    ) -> VerifiedCredential:
        """Everything about one credential: proof, validity, status, trust, holder binding.

        ``status_budget`` bounds the status-list bytes fetched for all credentials of one
        presentation (:meth:`verify_caller` shares one); without it, this credential's own.
        """
        now = self.clock() if now is None else now
        if isinstance(credential, str):
            cached = self.credential_cache.get(credential)
            if cached is None:
                vc = await verify_credential_jwt(
                    credential, self.resolver, now=now, leeway=self.leeway, limits=self.vc_limits
                )
                self.credential_cache.put(credential, vc)
            else:
                vc = cached
                check_validity(vc.payload, vc.valid_from, vc.valid_until, now, self.leeway)
        else:
            body = await verify_data_integrity(credential)
            signer = issuer_id(body)
            if signer is None:
                raise TokenError(Reason.INVALID_CLAIMS, "credential has no issuer")
            vc = check_credential_body(body, signer, now, self.leeway)
        if holder is not None and not holder_bound(vc, holder):
            raise CredentialError(
                Reason.HOLDER_MISMATCH, f"{holder} presented a credential about {vc.subject_id}"
            )
        self.trusted_issuers.check(vc, now)
        await self.status_checker.check(vc, status_budget)
        return vc

    async def verify_caller(
        self,
        authorization_header: str | None,
        scopes: list[str],
        *,
        expected_audience: str | None = None,
    ) -> VerifiedCaller:
        """Run the full DCP callee-side check for one incoming request."""
        now = self.clock()
        claims = await verify_id_token(
            bearer(authorization_header),
            self.resolver,
            audience=expected_audience or self.me.did,
            replay_cache=self.replay_cache,
            now=now,
            leeway=self.leeway,
            max_lifetime=self.max_token_lifetime,
        )
        if claims.access_token is None:
            raise TokenError(Reason.MISSING_ACCESS_TOKEN, "ID token has no token claim")
        document = await self.resolver.resolve(claims.did)
        service = document.service("CredentialService")
        if service is None:
            raise IdentityError(
                Reason.NO_CREDENTIAL_SERVICE, f"{claims.did} has no CredentialService"
            )
        our_token = create_id_token(self.me, claims.did, token=claims.access_token, ttl=60, now=now)
        response = await self.credential_service.query(
            service.endpoint, f"Bearer {our_token}", query_message(scopes)
        )
        presentations = response.get("presentation")
        if response.get("type") != "PresentationResponseMessage" or not isinstance(
            presentations, list
        ):
            raise IdentityError(
                Reason.CREDENTIAL_SERVICE_FAILED, "not a PresentationResponseMessage"
            )
        if len(presentations) > MAX_PRESENTATIONS:
            raise TokenError(Reason.TOKEN_TOO_LARGE, "too many presentations")
        nonce = presentation_nonce(claims.access_token)
        budget = self.status_checker.budget()
        credentials: list[VerifiedCredential] = []
        for vp_token in presentations:
            if not isinstance(vp_token, str):
                raise TokenError(Reason.UNSUPPORTED, "only VP-JWT presentations are supported")
            vp = await verify_presentation(
                vp_token,
                self.resolver,
                audience=self.me.did,
                nonce=nonce,
                now=now,
                leeway=self.leeway,
            )
            if vp.holder != claims.did:
                raise CredentialError(Reason.HOLDER_MISMATCH, "presentation signed by another DID")
            if len(credentials) + len(vp.credentials) > MAX_CREDENTIALS:
                raise TokenError(Reason.TOKEN_TOO_LARGE, "too many credentials")
            for vc_token in vp.credentials:
                credentials.append(
                    await self.verify_credential(
                        vc_token, holder=vp.holder, now=now, status_budget=budget
                    )
                )
        for scope in scopes:
            if not any(_satisfies(scope, c) for c in credentials):
                raise CredentialError(
                    Reason.MISSING_CREDENTIAL, f"no verified credential for {scope}"
                )
        typed = tuple(c for c in (parse_claims(vc) for vc in credentials) if c is not None)
        return VerifiedCaller(claims.did, tuple(credentials), typed, claims)


def _satisfies(scope: str, credential: VerifiedCredential) -> bool:
    scope = scope.removesuffix(":read")
    if scope.startswith(VC_TYPE_SCOPE):
        return credential.has_type(scope[len(VC_TYPE_SCOPE) :])
    if scope.startswith(VC_ID_SCOPE):
        return credential.id == scope[len(VC_ID_SCOPE) :]
    return False
