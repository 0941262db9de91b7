"""Member side of onboarding, on the participant's own management API (admin key).

``POST /api/v1/membership {"authority": "<base URL>", "country": "ES"}`` makes this connector
apply to the authority with a DCP-authenticated membership request. The authority is recorded
*before* applying, because an auto-approving authority delivers the credentials to our storage
endpoint while our request is still in flight, and its trusted-issuers list says who may issue
what. For the same reason the issuance request (the types an authority issues for our role) is
recorded first: without one our Credential Service stores nothing
(:mod:`connector.trust.issuance_requests`).

Also here: ``GET /api/v1/membership`` (state and credentials), ``GET /api/v1/trust/credentials``
(and ``GET``/``DELETE /api/v1/trust/credentials/{id}``, ``GET /api/v1/trust/issuance-requests``),
``POST /api/v1/trust/tokens`` (a DCP token for our own applications, e.g. audit tools) and
``POST /api/v1/trust/verify`` (the DCP check on a token our application was handed).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.config import did_web_for
from connector.http import safe_json
from connector.http.context import CTX
from connector.http.problems import Problem, read_json
from connector.http.routes import Route, add_routes
from connector.management.api import load_profile, validation_problem
from connector.trust import views as tv
from connector.trust.core import DEFAULT_SCOPES, trust_of
from connector.trust.issuance_requests import membership_types
from connector.trust.membership_state import load_membership, save_membership
from identity import IdentityError, type_scope
from identity.credential_service import VC_ID_SCOPE, VC_TYPE_SCOPE

MEMBERSHIP_REQUESTS_PATH = "/authority/v1/membership-requests"
CREDENTIAL_ID_MAX = 300


class MembershipApplication(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authority: str = Field(min_length=8, max_length=2000)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")

    @field_validator("authority")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("the authority's base URL (http:// or https://)")
        return v.rstrip("/")


async def apply_for_membership(request: web.Request) -> web.Response:
    trust = trust_of(request)
    ctx = request.app[CTX]
    try:
        body = MembershipApplication.model_validate(await read_json(request))
    except ValidationError as exc:
        raise validation_problem(exc) from None
    if trust.is_authority:
        raise Problem(409, "Conflict", detail="the authority does not apply to itself")
    country = body.country or (await load_profile(ctx)).country
    if not country:
        raise Problem(
            400,
            "Bad Request",
            detail="/country: needed (an ISO 3166-1 alpha-2 code, e.g. ES): give it here, with"
            " `agora join DIR URL --country ES`, `agora init --country ES`, or in the profile"
            " (PUT /api/v1/participant)",
        )
    authority_did = did_web_for(body.authority)
    try:
        await trust.resolver.resolve(authority_did)
    except IdentityError as exc:
        raise Problem(
            502,
            "Bad Gateway",
            detail=f"authority {authority_did}: {exc.detail}",
            reason=exc.reason,
        ) from None
    state: dict[str, Any] = {
        "authority_url": body.authority,
        "authority_did": authority_did,
        "state": "applying",
    }
    role = ctx.settings.participant.role.value
    # Recorded before applying, like the authority: an auto-approving one delivers at once.
    issuance_id = await trust.issuance.open(authority_did, membership_types(role))
    state["issuance_request"] = issuance_id
    await save_membership(ctx.engine, state)
    trust.trusted_issuers.invalidate()
    application = {
        "name": ctx.settings.participant.name,
        "role": role,
        "country": country,
    }
    try:
        status, raw = await trust.http.request_bytes(
            "POST",
            body.authority + MEMBERSHIP_REQUESTS_PATH,
            json_body=application,
            headers={"Authorization": f"Bearer {trust.id_token_for(authority_did)}"},
        )
    except IdentityError as exc:
        await trust.issuance.cancel(issuance_id)
        raise Problem(502, "Bad Gateway", detail=exc.detail) from None
    try:
        answer = safe_json.loads(raw)
    except ValueError:
        answer = {"detail": raw[:200].decode(errors="replace")}
    if status not in (201, 202) or not isinstance(answer, dict):
        state["state"] = "refused"
        await save_membership(ctx.engine, state)
        await trust.issuance.cancel(issuance_id)
        raise Problem(
            502,
            "Bad Gateway",
            detail=f"the authority answered {status}: {answer.get('detail', '')}",
            authority=answer,
        )
    state.update(request_id=answer.get("id"), state=answer.get("state", "pending"))
    await save_membership(ctx.engine, state)
    # The authority took this application: an earlier one it no longer knows is not pending.
    await trust.issuance.supersede(authority_did, issuance_id)
    return web.json_response(
        {**_public(state), "credentials": await trust.credentials.summaries()}, status=status
    )


def _public(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "authority": state.get("authority_url"),
        "authorityDid": state.get("authority_did"),
        "requestId": state.get("request_id"),
        "state": state.get("state"),
    }


#: application states the authority may still change (the applicant asks it again)
UNDECIDED = frozenset({"applying", "pending"})


async def _refresh(trust: Any, engine: Any, state: dict[str, Any]) -> dict[str, Any]:
    """Ask the authority where an undecided application stands and keep its answer; an
    authority that cannot be asked now leaves the state as it was (``checked`` says so)."""
    request_id = state.get("request_id")
    if state.get("state") not in UNDECIDED or not request_id or not state.get("authority_url"):
        return state
    url = f"{state['authority_url']}{MEMBERSHIP_REQUESTS_PATH}/{quote(str(request_id), safe='')}"
    try:
        status, raw = await trust.http.request_bytes(
            "GET",
            url,
            headers={"Authorization": f"Bearer {trust.id_token_for(state['authority_did'])}"},
        )
        answer = safe_json.loads(raw) if status == 200 else None
    except (IdentityError, ValueError):
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("state"), str):
        return {**state, "checked": False}
    if answer["state"] != state.get("state") or answer.get("detail") != state.get("detail"):
        state = {**state, "state": answer["state"], "detail": answer.get("detail")}
        await save_membership(engine, state)
    return state


async def get_membership(request: web.Request) -> web.Response:
    trust = trust_of(request)
    engine = request.app[CTX].engine
    state = await load_membership(engine)
    if state is None:
        raise Problem(404, "Not Found", detail="this participant has not applied for membership")
    state = await _refresh(trust, engine, state)
    view = _public(state)
    if state.get("detail"):
        view["detail"] = state["detail"]
    if state.get("checked") is False:
        view["checked"] = False
    return web.json_response({**view, "credentials": await trust.credentials.summaries()})


async def list_credentials(request: web.Request) -> web.Response:
    return web.json_response(await trust_of(request).credentials.summaries())


def _credential_id(request: web.Request) -> str:
    value = request.match_info["credential_id"]
    if not value or len(value) > CREDENTIAL_ID_MAX:
        raise Problem(404, "Not Found", detail="no such credential")
    return value


async def get_credential(request: web.Request) -> web.Response:
    """GET /api/v1/trust/credentials/{id}: one stored credential, with its VC-JWT."""
    found = await trust_of(request).credentials.get(_credential_id(request))
    if found is None:
        raise Problem(404, "Not Found", detail="no such credential in this wallet")
    return web.json_response(found)


async def delete_credential(request: web.Request) -> web.Response:
    """DELETE /api/v1/trust/credentials/{id}: the owner removes a credential it will no longer
    present (e.g. one stored before deliveries were checked against issuance requests)."""
    if not await trust_of(request).credentials.delete(_credential_id(request)):
        raise Problem(404, "Not Found", detail="no such credential in this wallet")
    return web.Response(status=204)


async def list_issuance_requests(request: web.Request) -> web.Response:
    """GET /api/v1/trust/issuance-requests: what this participant asked issuers for."""
    return web.json_response(await trust_of(request).issuance.list())


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audience: str = Field(pattern=r"^did:[a-z0-9]+:\S+$", max_length=2048)
    scopes: list[str] = Field(default_factory=list, max_length=16)


def _scope(name: str) -> str:
    """Accept full DCP scopes or bare credential type names."""
    if name.startswith((VC_TYPE_SCOPE, VC_ID_SCOPE)):
        return name
    return type_scope(name)


async def create_token(request: web.Request) -> web.Response:
    """POST /api/v1/trust/tokens: a DCP token our own application sends to another party."""
    try:
        body = TokenRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise validation_problem(exc) from None
    scopes = [_scope(s) for s in body.scopes] or list(DEFAULT_SCOPES)
    trust = trust_of(request)
    token = await trust.token_for(body.audience, scopes)
    return web.json_response(
        {"token": token, "scopes": scopes, "expiresIn": trust.cfg.token_ttl_s}, status=201
    )


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=16 * 1024)
    scopes: list[str] = Field(default_factory=list, max_length=16)


async def verify_token(request: web.Request) -> web.Response:
    """POST /api/v1/trust/verify: run the DCP check on a token our application received.

    Answers 200 either way: ``verified`` with the caller and its credentials, or the identity
    ``reason`` it was refused for (the token is the subject here, not this request's caller).
    """
    try:
        body = VerifyRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise validation_problem(exc) from None
    scopes = [_scope(s) for s in body.scopes] or list(DEFAULT_SCOPES)
    token = body.token.removeprefix("Bearer ").strip()
    try:
        caller = await trust_of(request).verify_authorization(f"Bearer {token}", scopes)
    except IdentityError as exc:
        return web.json_response(
            {"verified": False, "reason": exc.reason.value, "detail": exc.detail}
        )
    return web.json_response(
        {
            "verified": True,
            "did": caller.did,
            "credentials": [
                {"id": c.id, "types": list(c.types), "issuer": c.issuer} for c in caller.credentials
            ],
            "claims": [c.model_dump(by_alias=True) for c in caller.claims],
        }
    )


ROUTES = [
    Route(
        "POST",
        "/membership",
        apply_for_membership,
        "Apply for membership at an authority",
        request=MembershipApplication,
        response=tv.MembershipView,
        status=201,
        also=(202,),
        errors=(409, 502),
        description="Answers 201 when the authority admitted us at once (credentials already"
        " delivered), 202 when it holds the request for vetting.",
        example={"authority": "https://authority.example", "country": "ES"},
    ),
    Route(
        "GET",
        "/membership",
        get_membership,
        "Membership state and held credentials",
        response=tv.MembershipView,
        errors=(404,),
    ),
    Route(
        "GET",
        "/trust/credentials",
        list_credentials,
        "Credentials in this participant's wallet",
        response=tv.CREDENTIALS,
    ),
    Route(
        "GET",
        "/trust/credentials/{credential_id}",
        get_credential,
        "One stored credential",
        response=tv.StoredCredential,
    ),
    Route(
        "DELETE",
        "/trust/credentials/{credential_id}",
        delete_credential,
        "Delete a credential",
        status=204,
    ),
    Route(
        "GET",
        "/trust/issuance-requests",
        list_issuance_requests,
        "Our issuance requests",
        response=tv.ISSUANCE_REQUESTS,
    ),
    Route(
        "POST",
        "/trust/tokens",
        create_token,
        "Mint a DCP token for our own application",
        request=TokenRequest,
        response=tv.TokenView,
        status=201,
        example={"audience": "did:web:city.example", "scopes": ["MembershipCredential"]},
    ),
    Route(
        "POST",
        "/trust/verify",
        verify_token,
        "Run the DCP check on a token we were handed",
        request=VerifyRequest,
        response=tv.VerificationView,
        description="Answers 200 either way: verified with the caller and its credentials, or"
        " the identity reason the token was refused for.",
    ),
]


def mount(api: web.Application) -> None:
    add_routes(api, ROUTES)
