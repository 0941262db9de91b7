"""The holder side of DCP: our Credential Service, advertised in the DID document.

- ``POST /dcp/presentations/query``: a verifier asks for our credentials. It authenticates
  with its own self-issued ID token carrying the access token *we* minted for it
  (:meth:`Trust.token_for`); identity's PresentationResponder checks both and presents only
  the scopes that token grants.
- ``POST /dcp/credentials``: the DCP storage endpoint; an issuer delivers credentials in a
  CredentialMessage, authenticated by its self-issued ID token. Stored, all or none, only if
  every credential verifies, was issued by the sender, is about us (or, for a consent, grants
  it to us: what we could present), its issuer is accredited
  for its type on the trusted-issuers list, and we asked that issuer for that type (a pending
  issuance request, :mod:`connector.trust.issuance_requests`). Anything else is refused with a
  403 naming the reason, and nothing is stored: a trusted consent issuer cannot slip us a
  membership credential that would make every verifier refuse us.
"""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connector.http.problems import Problem, read_json
from connector.management.api import validation_problem
from connector.trust.core import Trust, trust_of
from connector.trust.credential_store import StoreRefused
from connector.trust.issuance_requests import membership_types
from connector.trust.membership_state import load_membership, save_membership
from connector.trust.problems import PROBLEM_BASE, dcp_problem
from identity import (
    CredentialError,
    IdentityError,
    PresentationResponder,
    Reason,
    VerifiedCredential,
    verify_credential_jwt,
    verify_id_token,
)
from identity.credential_service import DCP_CONTEXT, bearer
from identity.status_list import MAX_STATUS_ENTRIES
from identity.trusted_issuers import BASE_TYPE
from identity.verifier import holder_bound

MAX_CREDENTIALS_PER_MESSAGE = 16
MAX_VC_CHARS = 64 * 1024
#: Problem reason: a delivery no issuance request of ours asked for.
NOT_REQUESTED = "not_requested"


def _trust(request: web.Request) -> Trust:
    return trust_of(request)


async def presentations_query(request: web.Request) -> web.Response:
    """The caller is authenticated (ID token and our access token) before its body is read."""
    trust = _trust(request)
    responder = PresentationResponder(
        trust.participant,
        await trust.credentials.jwts(),
        trust.resolver,
        replay_cache=trust.replay,
        vp_ttl=trust.cfg.token_ttl_s,
        max_token_lifetime=trust.cfg.max_token_lifetime_s,
    )
    try:
        caller = await responder.authenticate(request.headers.get("Authorization"))
    except IdentityError as exc:
        raise dcp_problem(exc) from None
    message = await read_json(request)
    try:
        body = responder.present(message, caller)
    except IdentityError as exc:
        status = {
            Reason.MALFORMED: 400,
            Reason.UNSUPPORTED: 501,
            Reason.SCOPE_NOT_GRANTED: 403,
        }.get(exc.reason, 401)
        raise dcp_problem(exc, status) from None
    return web.json_response(body)


class _DeliveredCredential(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    credential_type: str = Field(alias="credentialType", min_length=1, max_length=200)
    payload: str = Field(min_length=1, max_length=MAX_VC_CHARS)
    format: str = Field(min_length=1, max_length=50)


class CredentialMessage(BaseModel):
    """DCP CredentialMessage (the fields we act on; pids are accepted and ignored)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[str] = Field(alias="@context", min_length=1)
    type: str
    credentials: list[_DeliveredCredential] = Field(
        min_length=1, max_length=MAX_CREDENTIALS_PER_MESSAGE
    )


async def store_credentials(request: web.Request) -> web.Response:
    trust = _trust(request)
    try:
        claims = await verify_id_token(
            bearer(request.headers.get("Authorization")),
            trust.resolver,
            audience=trust.did,
            replay_cache=trust.replay,
            leeway=trust.cfg.leeway_s,
            max_lifetime=trust.cfg.max_token_lifetime_s,
        )
    except IdentityError as exc:
        raise dcp_problem(exc) from None
    raw = await read_json(request)
    try:
        message = CredentialMessage.model_validate(raw)
    except ValidationError as exc:
        raise validation_problem(exc) from None
    if message.type != "CredentialMessage" or DCP_CONTEXT not in message.context:
        raise Problem(
            400, "Bad Request", detail=f"expected a CredentialMessage with context {DCP_CONTEXT}"
        )
    sender = claims.did
    now = time.time()
    trusted = await trust.trusted_issuers.current()
    listed = trusted.get(sender)
    if listed is None or listed.issuer_type == "Revoked":
        raise dcp_problem(
            CredentialError(Reason.UNTRUSTED_ISSUER, f"{sender} may not deliver credentials here"),
            403,
        )
    received: list[tuple[VerifiedCredential, str]] = []
    for index, item in enumerate(message.credentials):
        try:
            vc = await verify_credential_jwt(item.payload, trust.resolver, now=now)
        except IdentityError as exc:
            raise dcp_problem(exc, 400) from None
        problem = _mismatch(vc, item.credential_type, sender, trust.did)
        if problem:
            raise Problem(
                400,
                "Bad Request",
                detail=f"/credentials/{index}: {problem}",
                reason=Reason.INVALID_CLAIMS.value,
            )
        try:
            trusted.check(vc, now)
        except CredentialError as exc:
            raise dcp_problem(
                CredentialError(exc.reason, f"/credentials/{index}: {exc.detail}"), 403
            ) from None
        received.append((vc, item.payload))
    types = {t for vc, _ in received for t in vc.types if t != BASE_TYPE}
    holder_pid = raw.get("holderPid") if isinstance(raw, dict) else None
    request_id = await trust.issuance.match(
        sender, types, holder_pid if isinstance(holder_pid, str) else None
    )
    if request_id is None and not await _applied_before_requests_were_recorded(
        trust, sender, types
    ):
        raise Problem(
            403,
            "Forbidden",
            detail=f"this participant has no pending issuance request to {sender} "
            f"for {sorted(types)}",
            type_=PROBLEM_BASE + NOT_REQUESTED,
            reason=NOT_REQUESTED,
        )
    try:
        await trust.credentials.add_all(received, fulfils=request_id)
    except StoreRefused as exc:
        raise Problem(409, "Conflict", detail=str(exc)) from None
    await _note_admission(trust, sender, received)
    return web.json_response({"stored": [vc.id for vc, _ in received]})


async def _applied_before_requests_were_recorded(
    trust: Trust, sender: str, types: set[str]
) -> bool:
    """A membership application still open from before issuance requests were recorded
    (its state has no ``issuance_request``) counts as the request for the membership types."""
    state = await load_membership(trust.ctx.engine)
    return (
        state is not None
        and "issuance_request" not in state
        and state.get("authority_did") == sender
        and state.get("state") in ("applying", "pending")
        and types <= set(membership_types(trust.ctx.settings.participant.role.value))
    )


async def _note_admission(
    trust: Trust, sender: str, received: list[tuple[VerifiedCredential, str]]
) -> None:
    """A membership credential from the authority we applied to means we were admitted
    (also when an operator approved our request long after we applied)."""
    state = await load_membership(trust.ctx.engine)
    if state is None or state.get("authority_did") != sender or state.get("state") == "approved":
        return
    if any(vc.has_type("MembershipCredential") for vc, _ in received):
        await save_membership(trust.ctx.engine, {**state, "state": "approved"})


def _mismatch(vc: VerifiedCredential, declared: str, sender: str, me: str) -> str | None:
    if vc.id is None:
        return "the credential has no id"
    if vc.issuer != sender:
        return f"issued by {vc.issuer}, delivered by {sender}"
    if not holder_bound(vc, me):  # about us, or a consent granted to us
        return f"about {vc.subject_id}, not this participant"
    if len(vc.status) > MAX_STATUS_ENTRIES:  # every verifier would refuse it
        return f"carries {len(vc.status)} status entries, verifiers accept {MAX_STATUS_ENTRIES}"
    if declared not in vc.types:
        return f"declared {declared} but the credential is {list(vc.types)}"
    return None


def mount(root: web.Application, base: str) -> None:
    root.router.add_post(base + "/presentations/query", presentations_query)
    root.router.add_post(base + "/credentials", store_credentials)
