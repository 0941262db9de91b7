"""Typed errors of the identity package.

Every rejection carries a machine-readable ``reason`` (a stable code the connector maps to an
HTTP problem type and tests assert on) and a human ``detail`` (for logs and problem details).
The package never knows about HTTP status codes: that mapping belongs to the connector.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Stable reason codes. Values are part of the public API: do not rename them."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    ALG_NOT_ALLOWED = "alg_not_allowed"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_NONCE = "wrong_nonce"
    REPLAYED = "replayed"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    STATUS_UNAVAILABLE = "status_unavailable"
    STATUS_TOO_LARGE = "status_too_large"
    UNTRUSTED_ISSUER = "untrusted_issuer"
    TYPE_NOT_ALLOWED = "credential_type_not_allowed"
    CLAIM_NOT_ALLOWED = "claim_not_allowed"
    HOLDER_MISMATCH = "holder_mismatch"
    ISSUER_MISMATCH = "issuer_mismatch"
    DID_UNRESOLVABLE = "did_unresolvable"
    HOST_NOT_ALLOWED = "host_not_allowed"
    KEY_NOT_FOUND = "key_not_found"
    TOKEN_TOO_LARGE = "token_too_large"
    TOKEN_TOO_DEEP = "token_too_deep"
    UNKNOWN_CONTEXT = "unknown_context"
    INVALID_CLAIMS = "invalid_claims"
    MISSING_CREDENTIAL = "missing_credential"
    MISSING_ACCESS_TOKEN = "missing_access_token"
    SCOPE_NOT_GRANTED = "scope_not_granted"
    NO_CREDENTIAL_SERVICE = "no_credential_service"
    CREDENTIAL_SERVICE_FAILED = "credential_service_failed"
    KEY_STORE = "key_store"
    DEPENDENCY_MISSING = "dependency_missing"
    UNSUPPORTED = "unsupported"


class IdentityError(Exception):
    """Base of every error raised by ``identity``."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class TokenError(IdentityError):
    """A JWT (ID token, VC, VP, access token) was rejected."""


class CredentialError(IdentityError):
    """A credential is well signed but not acceptable (status, trust, claims, binding)."""


class ResolutionError(IdentityError):
    """A DID could not be resolved, or resolving it was refused (SSRF guard)."""


class KeyStoreError(IdentityError):
    """Keys could not be created, loaded or saved."""


class DependencyMissingError(IdentityError):
    """An optional backend (e.g. didkit) is not installed."""
