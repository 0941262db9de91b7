"""A root-app authenticator: DCP callers on routes that accept auditors.

An auditor's connector mints a self-issued ID token for us (scopes: MembershipCredential and
AuditorCredential); we run the DCP check and, if it presents a valid AuditorCredential, the
caller is ``Principal("auditor", did)``. A verified member without one is
``Principal("participant", did)`` — authenticated, so routes answer 403 rather than 401.

Only routes marked ``accepts("auditor")`` trigger the check: a token sent to an admin-only route
never makes us resolve DIDs or call anyone's credential service.
"""

from __future__ import annotations

from aiohttp import web

from connector.http.auth import Principal
from connector.http.context import CTX
from connector.trust.problems import dcp_problem
from identity import AuditorCredential, IdentityError, Reason, type_scope
from identity.jwt_codec import Limits, decode_unverified

AUDITOR = "auditor"
PARTICIPANT = "participant"
AUDITOR_SCOPES = (type_scope("MembershipCredential"), type_scope("AuditorCredential"))


def _dcp_shaped(token: str) -> bool:
    """A self-issued ID token with an access token inside (``iss`` = ``sub`` = a DID)?

    Other JWT bearer tokens (e.g. DSP agreement tokens) are left to their own authenticators.
    """
    try:
        payload = decode_unverified(token, Limits(max_bytes=16 * 1024, max_depth=8)).payload
    except IdentityError:
        return False
    iss = payload.get("iss")
    return (
        isinstance(iss, str)
        and iss.startswith("did:")
        and payload.get("sub") == iss
        and isinstance(payload.get("token"), str)
    )


async def dcp_authenticator(request: web.Request, token: str) -> Principal | None:
    accepted: frozenset[str] = getattr(
        request.match_info.route.handler, "__agora_accepts__", frozenset()
    )
    if AUDITOR not in accepted or not _dcp_shaped(token):
        return None
    trust = request.app[CTX].components.get("trust")
    if trust is None:
        return None
    try:
        caller = await trust.verify_authorization(f"Bearer {token}", AUDITOR_SCOPES)
    except IdentityError as exc:
        if exc.reason is Reason.MISSING_CREDENTIAL:
            # The token and every presented credential verified: a known caller, not an auditor.
            did = str(decode_unverified(token).payload.get("iss"))
            return Principal(PARTICIPANT, did)
        raise dcp_problem(exc) from None
    auditor = caller.get(AuditorCredential)
    if auditor is None:
        return Principal(PARTICIPANT, caller.did)
    return Principal(
        AUDITOR,
        caller.did,
        {"accreditation": auditor.accreditation, "jurisdiction": auditor.jurisdiction},
    )
