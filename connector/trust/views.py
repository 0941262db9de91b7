"""Answers of the trust routes of the management API, for its OpenAPI document.

Built as dicts by :mod:`connector.trust.membership` and :mod:`connector.trust.authority` (and
the stores they read); these models say what a client can rely on.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, TypeAdapter

from connector.http.routes import View


class CredentialSummary(View):
    id: str
    type: str
    issuer: str
    status: Any = Field(description="the credential's status entries (Bitstring Status List)")
    validUntil: float | None = Field(description="seconds since the epoch")
    receivedAt: str


class MembershipView(View):
    authority: str | None = Field(description="the authority's base URL")
    authorityDid: str | None
    requestId: str | None
    state: str | None = Field(
        description="applying | pending | approved | rejected | refused | …; an undecided"
        " application is asked of the authority again on every read"
    )
    detail: str | None = Field(default=None, description="the authority's reason, if it gave one")
    checked: bool | None = Field(
        default=None, description="false: the authority could not be asked now; state as last known"
    )
    credentials: list[CredentialSummary]


class StoredCredential(View):
    """One stored credential, with its VC-JWT."""

    id: str


class IssuanceRequestView(View):
    id: str
    issuer: str
    credentialTypes: list[str]
    state: str
    createdAt: str | None
    closedAt: str | None


class TokenView(View):
    token: str = Field(description="a DCP self-issued ID token (JWT)")
    scopes: list[str]
    expiresIn: int = Field(description="seconds")


class VerifiedCredential(View):
    id: str
    types: list[str]
    issuer: str


class VerificationView(View):
    """The DCP check's outcome: ``verified`` with the caller, or the reason it was refused."""

    verified: bool
    did: str | None = None
    credentials: list[VerifiedCredential] | None = None
    claims: list[dict[str, Any]] | None = None
    reason: str | None = None
    detail: str | None = None


class MembershipRequestView(View):
    id: str
    did: str
    name: str
    role: str
    country: str
    state: Literal["pending", "approving", "approved", "rejected", "failed"]
    detail: str | None
    createdAt: str | None
    decidedAt: str | None


class ApprovedRequestView(MembershipRequestView):
    credentials: list[str] = Field(description="the types of the credentials issued")


class MemberView(View):
    did: str
    name: str
    role: str
    country: str
    dspEndpoint: str | None
    state: str = Field(description="active | suspended | revoked")
    joinedAt: str | None
    revokedAt: str | None = None


class RevocationView(View):
    did: str
    state: Literal["revoked"]
    revokedCredentials: list[str]


class SuspensionView(View):
    did: str
    state: Literal["active", "suspended"]
    credentials: list[str]


CREDENTIALS = TypeAdapter(list[CredentialSummary])
ISSUANCE_REQUESTS = TypeAdapter(list[IssuanceRequestView])
REQUESTS = TypeAdapter(list[MembershipRequestView])
MEMBERS = TypeAdapter(list[MemberView])
