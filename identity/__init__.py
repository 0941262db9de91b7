"""Agora identity: keys, DIDs, verifiable credentials and the DCP checks, as a library.

No HTTP server and no storage live here: the connector serves DID documents, status lists and
the Credential Service endpoint, and persists key rings and status lists, using these types.
"""

from .credential_service import (
    AiohttpCredentialServiceClient,
    CredentialServiceClient,
    PresentationResponder,
    issue_access_token,
    presentation_nonce,
    query_message,
    type_scope,
)
from .credential_types import (
    AuditorCredential,
    ConsentCredential,
    CredentialClaims,
    MembershipCredential,
    ParticipantCredential,
    parse_claims,
)
from .credentials import VerifiedCredential, issue_credential, verify_credential_jwt
from .did_document import DidDocument, build_did_document
from .did_key import did_key_from_public_key, resolve_did_key
from .did_web import did_web_to_url, url_to_did_web
from .errors import (
    CredentialError,
    DependencyMissingError,
    IdentityError,
    KeyStoreError,
    Reason,
    ResolutionError,
    TokenError,
)
from .http_guard import FetchPolicy, GuardedHttp
from .id_token import IdTokenClaims, create_id_token, verify_id_token
from .keyring import KeyRing
from .keys import KeyAlg, SigningKey
from .presentations import VerifiedPresentation, create_presentation, verify_presentation
from .replay import InMemoryReplayCache, ReplayCache
from .resolver import DidResolver
from .signer import Participant
from .status_list import (
    Bitstring,
    HttpStatusListFetcher,
    StatusBudget,
    StatusListChecker,
    StatusListFetcher,
    StatusListIssuer,
    StatusPurpose,
)
from .trusted_issuers import TrustedIssuersList
from .vc_cache import VerifiedCredentialCache
from .verifier import DcpVerifier, VerifiedCaller

__all__ = [
    "AiohttpCredentialServiceClient",
    "AuditorCredential",
    "Bitstring",
    "ConsentCredential",
    "CredentialClaims",
    "CredentialError",
    "CredentialServiceClient",
    "DcpVerifier",
    "DependencyMissingError",
    "DidDocument",
    "DidResolver",
    "FetchPolicy",
    "GuardedHttp",
    "HttpStatusListFetcher",
    "IdTokenClaims",
    "IdentityError",
    "InMemoryReplayCache",
    "KeyAlg",
    "KeyRing",
    "KeyStoreError",
    "MembershipCredential",
    "Participant",
    "ParticipantCredential",
    "PresentationResponder",
    "Reason",
    "ReplayCache",
    "ResolutionError",
    "SigningKey",
    "StatusBudget",
    "StatusListChecker",
    "StatusListFetcher",
    "StatusListIssuer",
    "StatusPurpose",
    "TokenError",
    "TrustedIssuersList",
    "VerifiedCaller",
    "VerifiedCredential",
    "VerifiedCredentialCache",
    "VerifiedPresentation",
    "build_did_document",
    "create_id_token",
    "create_presentation",
    "did_key_from_public_key",
    "did_web_to_url",
    "issue_access_token",
    "issue_credential",
    "parse_claims",
    "presentation_nonce",
    "query_message",
    "resolve_did_key",
    "type_scope",
    "url_to_did_web",
    "verify_credential_jwt",
    "verify_id_token",
    "verify_presentation",
]
