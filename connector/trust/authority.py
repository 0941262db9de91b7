"""The authority role: admit members, issue their credentials, suspend, reinstate, revoke them.

Public (DCP-authenticated): ``POST /authority/v1/membership-requests`` — an applicant's
connector sends ``{name, role, country}`` with its self-issued ID token; the token proves it
controls the did:web it claims (resolved, signature checked, jti remembered).

Management (admin key): ``GET /api/v1/authority/requests``,
``POST /api/v1/authority/requests/{id}/approve|reject``, ``GET /api/v1/authority/members``,
``POST /api/v1/authority/members/{did}/suspend|reinstate|revoke``.

Approval issues MembershipCredential and ParticipantCredential (plus AuditorCredential for
auditors), each with its own revocation status entry and a suspension entry at the same index of
the suspension list, delivers them to the member's Credential Service (DCP storage endpoint) and
only then adds the member to the registry. Revocation flips every revocation bit issued to the
member, suspension sets (reinstatement clears) its suspension bits, so verifiers refuse (accept
again) once their status cache expires. Credentials issued before suspension existed carry no
suspension entry: suspending such a member only takes it out of the registry until re-issued.

``auto_approve`` (the demo's setting) admits only what needs no vetting: a plain member
(:data:`AUTO_APPROVABLE_ROLES`) that was never revoked nor rejected. An applicant picks its own
role, and city, civic and auditor carry power (role claims policies rely on, the right to issue
consent, audit access), so those requests wait for the operator; so does any request of a DID
whose membership was revoked or whose earlier request was rejected: revocation is sticky.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.http.problems import Problem, read_json
from connector.http.routes import Route, add_routes
from connector.management.api import validation_problem
from connector.trust import views as tv
from connector.trust.core import Trust, trust_of
from connector.trust.problems import dcp_problem
from connector.trust.registry import Registry
from connector.trust.status_lists import REVOCATION_LIST, SUSPENSION_LIST, StatusLists
from connector.trust.tables import issued, membership_requests
from identity import (
    AuditorCredential,
    CredentialClaims,
    IdentityError,
    IdTokenClaims,
    MembershipCredential,
    ParticipantCredential,
    Reason,
    create_id_token,
    issue_credential,
    verify_credential_jwt,
    verify_id_token,
)
from identity.credential_service import DCP_CONTEXT, bearer

REQUEST_ID_MAX = 64
STATES = ("pending", "approving", "approved", "rejected", "failed")
#: Roles an auto-approving authority may admit unvetted: members that claim nothing more.
AUTO_APPROVABLE_ROLES = frozenset({"company"})


class MembershipRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Literal["city", "company", "civic", "auditor"]
    country: str = Field(pattern=r"^[A-Z]{2}$")


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _request_json(row: Any) -> dict[str, Any]:
    return {
        "id": row["id"],
        "did": row["did"],
        "name": row["name"],
        "role": row["role"],
        "country": row["country"],
        "state": row["state"],
        "detail": row["detail"],
        "createdAt": _iso(row["created_at"]),
        "decidedAt": _iso(row["decided_at"]),
    }


class Authority:
    """Membership decisions of the data-space authority, persisted."""

    def __init__(self, trust: Trust) -> None:
        assert trust.registry is not None and trust.status_lists is not None
        self.trust = trust
        self.registry: Registry = trust.registry
        self.status_lists: StatusLists = trust.status_lists
        self.engine: AsyncEngine = trust.ctx.engine

    async def get_request(self, request_id: str) -> dict[str, Any] | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(membership_requests).where(membership_requests.c.id == request_id)
                )
            ).first()
        return None if row is None else _request_json(row._mapping)

    async def list_requests(self, state: str | None = None) -> list[dict[str, Any]]:
        stmt = select(membership_requests).order_by(membership_requests.c.created_at)
        if state:
            stmt = stmt.where(membership_requests.c.state == state)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_request_json(r._mapping) for r in rows]

    async def receive(self, did: str, body: MembershipRequest) -> dict[str, Any]:
        member = await self.registry.get(did)
        if member is not None and member["state"] in ("active", "suspended"):
            raise Problem(409, "Conflict", detail=f"{did} is already a member ({member['state']})")
        for pending in await self.list_requests("pending"):
            if pending["did"] == did:
                raise Problem(
                    409, "Conflict", detail=f"request {pending['id']} of {did} is pending"
                )
        request_id = uuid.uuid4().hex
        async with self.engine.begin() as conn:
            await conn.execute(
                membership_requests.insert().values(
                    id=request_id,
                    did=did,
                    name=body.name,
                    role=body.role,
                    country=body.country,
                    state="pending",
                    detail=None,
                    created_at=datetime.now(UTC),
                    decided_at=None,
                )
            )
        if self.trust.cfg.auto_approve:
            vetting = await self._needs_vetting(did, body.role, member)
            if vetting is None:
                return await self.approve(request_id)
            async with self.engine.begin() as conn:
                await conn.execute(
                    update(membership_requests)
                    .where(membership_requests.c.id == request_id)
                    .values(detail=vetting)
                )
        found = await self.get_request(request_id)
        assert found is not None
        return found

    async def _needs_vetting(
        self, did: str, role: str, member: dict[str, Any] | None
    ) -> str | None:
        """Why an auto-approving authority must still leave this request to the operator."""
        if role not in AUTO_APPROVABLE_ROLES:
            return f"the role {role} is vetted by the operator, never admitted automatically"
        if member is not None and member["state"] == "revoked":
            return "this participant's membership was revoked: only the operator may re-admit it"
        async with self.engine.connect() as conn:
            rejected = (
                await conn.execute(
                    select(membership_requests.c.id).where(
                        membership_requests.c.did == did,
                        membership_requests.c.state == "rejected",
                    )
                )
            ).first()
        if rejected is not None:
            return f"an earlier request ({rejected.id}) was rejected: the operator decides"
        return None

    async def _decide(self, request_id: str, state: str, detail: str | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                update(membership_requests)
                .where(membership_requests.c.id == request_id)
                .values(state=state, detail=detail, decided_at=datetime.now(UTC))
            )

    def _claims(self, req: dict[str, Any]) -> list[CredentialClaims]:
        did = req["did"]
        claims: list[CredentialClaims] = [
            MembershipCredential(
                id=did, memberOf=self.trust.did, since=datetime.now(UTC).strftime("%Y-%m-%d")
            ),
            ParticipantCredential(
                id=did, legalName=req["name"], role=req["role"], country=req["country"]
            ),
        ]
        if req["role"] == "auditor":
            claims.append(
                AuditorCredential(
                    id=did, accreditation="data-space audit", jurisdiction=req["country"]
                )
            )
        return claims

    async def _claim(self, request_id: str) -> bool:
        """Move a pending (or failed) request to 'approving'; exactly one replica wins."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(membership_requests)
                .where(
                    membership_requests.c.id == request_id,
                    membership_requests.c.state.in_(("pending", "failed")),
                )
                .values(state="approving")
            )
        return bool(result.rowcount)

    async def approve(self, request_id: str) -> dict[str, Any]:
        req = await self.get_request(request_id)
        if req is None:
            raise Problem(404, "Not Found", detail=f"no membership request {request_id}")
        if not await self._claim(request_id):
            current = await self.get_request(request_id)
            state = current["state"] if current else "gone"
            raise Problem(409, "Conflict", detail=f"request {request_id} is {state}")
        try:
            return await self._admit(request_id, req)
        except BaseException:
            # Whatever stopped the approval half-way, the request stays retryable.
            current = await self.get_request(request_id)
            if current is not None and current["state"] == "approving":
                await self._decide(request_id, "failed", "the approval was interrupted")
            raise

    async def _admit(self, request_id: str, req: dict[str, Any]) -> dict[str, Any]:
        try:
            document = await self.trust.resolver.resolve(req["did"])
        except IdentityError as exc:
            await self._decide(request_id, "failed", exc.detail)
            raise dcp_problem(exc, 422) from None
        service = document.service("CredentialService")
        if service is None:
            await self._decide(request_id, "failed", "no CredentialService in the DID document")
            raise Problem(422, "Unprocessable Content", detail="no CredentialService to deliver to")
        dsp = document.service("DataService")
        tokens, positions = await self._issue(req)
        try:
            await self._deliver(req["did"], service.endpoint, tokens)
        except IdentityError as exc:
            await self._revoke_positions(positions)
            await self._decide(request_id, "failed", f"delivery failed: {exc.detail}")
            raise Problem(
                502, "Bad Gateway", detail=f"credentials not delivered: {exc.detail}"
            ) from None
        async with self.engine.begin() as conn:
            await self.registry.add(
                conn,
                did=req["did"],
                name=req["name"],
                role=req["role"],
                country=req["country"],
                dsp_endpoint=dsp.endpoint if dsp else None,
                request_id=request_id,
            )
            await conn.execute(
                update(membership_requests)
                .where(membership_requests.c.id == request_id)
                .values(state="approved", detail=None, decided_at=datetime.now(UTC))
            )
        self.trust.trusted_issuers.invalidate()
        found = await self.get_request(request_id)
        assert found is not None
        return {**found, "credentials": [t for t, _ in tokens]}

    async def hold_own_membership(self) -> bool:
        """The authority is the data space's first member: its wallet holds a
        MembershipCredential and a ParticipantCredential (role ``authority``) about itself,
        issued by itself, so that members requiring them (the federated catalog's crawl asks
        each member for its DSP catalog) admit it as they admit any member. Issued when one
        is missing or expires within a day; True if issued now."""
        soon = time.time() + 86_400
        held = {
            c["type"]
            for c in await self.trust.credentials.summaries()
            if c["issuer"] == self.trust.did and (c["validUntil"] is None or c["validUntil"] > soon)
        }
        if {"MembershipCredential", "ParticipantCredential"} <= held:
            return False
        me = self.trust.did
        participant = self.trust.ctx.settings.participant
        claims: list[CredentialClaims] = [
            MembershipCredential(id=me, memberOf=me, since=datetime.now(UTC).strftime("%Y-%m-%d")),
            ParticipantCredential(
                id=me,
                legalName=participant.name,
                role="authority",
                # a country is required; an authority configured without one spans the EU
                country=participant.country or "EU",
            ),
        ]
        tokens, _ = await self._issue({"did": me}, claims)
        received = [
            (await verify_credential_jwt(jwt, self.trust.resolver, now=time.time()), jwt)
            for _, jwt in tokens
        ]
        await self.trust.credentials.add_all(received)
        return True

    async def _issue(
        self, req: dict[str, Any], claims_list: Sequence[CredentialClaims] | None = None
    ) -> tuple[list[tuple[str, str]], list[tuple[str, int]]]:
        """Sign the member's credentials; returns ((type, jwt)…, (list, index)…)."""
        now = time.time()
        valid_until = now + self.trust.cfg.credential_validity_days * 86_400
        tokens: list[tuple[str, str]] = []
        positions: list[tuple[str, int]] = []
        async with self.status_lists.lock, self.engine.begin() as conn:
            for claims in claims_list if claims_list is not None else self._claims(req):
                entry = await self.status_lists.allocate(conn, REVOCATION_LIST)
                index = int(entry["statusListIndex"])
                # The same index in the suspension list: ``issued`` keeps one position for both.
                suspension = await self.status_lists.allocate(conn, SUSPENSION_LIST, index)
                credential_id = f"urn:uuid:{uuid.uuid4()}"
                body = claims.to_credential(
                    self.trust.did,
                    valid_from=now,
                    valid_until=valid_until,
                    status=[entry, suspension],
                    credential_id=credential_id,
                )
                tokens.append(
                    (claims.credential_type, issue_credential(self.trust.participant, body))
                )
                positions.append((REVOCATION_LIST, index))
                await conn.execute(
                    issued.insert().values(
                        id=credential_id,
                        subject=req["did"],
                        type=claims.credential_type,
                        list_id=REVOCATION_LIST,
                        list_index=index,
                        revoked=False,
                        issued_at=datetime.now(UTC),
                    )
                )
        return tokens, positions

    async def _deliver(self, did: str, endpoint: str, tokens: list[tuple[str, str]]) -> None:
        message = {
            "@context": [DCP_CONTEXT],
            "type": "CredentialMessage",
            "issuerPid": uuid.uuid4().hex,
            "status": "ISSUED",
            "credentials": [
                {"credentialType": type_, "payload": token, "format": "jwt"}
                for type_, token in tokens
            ],
        }
        token = create_id_token(self.trust.participant, did, ttl=self.trust.cfg.token_ttl_s)
        status, body = await self.trust.http.request_bytes(
            "POST",
            endpoint.rstrip("/") + "/credentials",
            json_body=message,
            headers={"Authorization": f"Bearer {token}"},
            error_reason=Reason.CREDENTIAL_SERVICE_FAILED,
        )
        if status != 200:
            detail = body[:300].decode(errors="replace")
            raise IdentityError(Reason.CREDENTIAL_SERVICE_FAILED, f"HTTP {status}: {detail}")

    async def _revoke_positions(self, positions: list[tuple[str, int]]) -> None:
        async with self.status_lists.lock, self.engine.begin() as conn:
            for list_id, index in positions:
                await self.status_lists.set_status(conn, list_id, index)

    async def reject(self, request_id: str, reason: str) -> dict[str, Any]:
        req = await self.get_request(request_id)
        if req is None:
            raise Problem(404, "Not Found", detail=f"no membership request {request_id}")
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(membership_requests)
                .where(
                    membership_requests.c.id == request_id,
                    membership_requests.c.state.in_(("pending", "failed")),
                )
                .values(state="rejected", detail=reason or None, decided_at=datetime.now(UTC))
            )
        if not result.rowcount:
            raise Problem(409, "Conflict", detail=f"request {request_id} is {req['state']}")
        found = await self.get_request(request_id)
        assert found is not None
        return found

    async def revoke(self, did: str) -> dict[str, Any]:
        """Flip every status bit issued to ``did`` and take it out of the registry."""
        member = await self.registry.get(did)
        if member is None:
            raise Problem(404, "Not Found", detail=f"{did} is not a member")
        if member["state"] == "revoked":
            raise Problem(409, "Conflict", detail=f"{did} is already revoked")
        async with self.status_lists.lock, self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    select(issued.c.id, issued.c.list_id, issued.c.list_index).where(
                        issued.c.subject == did, issued.c.revoked.is_(False)
                    )
                )
            ).all()
            for row in rows:
                await self.status_lists.set_status(conn, row.list_id, row.list_index)
            await conn.execute(
                update(issued)
                .where(issued.c.subject == did, issued.c.revoked.is_(False))
                .values(revoked=True)
            )
            await self.registry.mark_revoked(conn, did)
        self.trust.trusted_issuers.invalidate()
        return {"did": did, "state": "revoked", "revokedCredentials": [r.id for r in rows]}

    async def suspend(self, did: str) -> dict[str, Any]:
        """Set the suspension bit of every live credential of ``did``; reversible."""
        return await self._suspension(did, suspended=True)

    async def reinstate(self, did: str) -> dict[str, Any]:
        """Clear the suspension bits set by :meth:`suspend`."""
        return await self._suspension(did, suspended=False)

    async def _suspension(self, did: str, *, suspended: bool) -> dict[str, Any]:
        old, new = ("active", "suspended") if suspended else ("suspended", "active")
        member = await self.registry.get(did)
        if member is None:
            raise Problem(404, "Not Found", detail=f"{did} is not a member")
        if member["state"] != old:
            raise Problem(409, "Conflict", detail=f"{did} is {member['state']}, not {old}")
        async with self.status_lists.lock, self.engine.begin() as conn:
            if not await self.registry.move(conn, did, old, new):
                raise Problem(409, "Conflict", detail=f"{did} is no longer {old}")
            rows = (
                await conn.execute(
                    select(issued.c.id, issued.c.list_index).where(
                        issued.c.subject == did,
                        issued.c.revoked.is_(False),
                        issued.c.list_id == REVOCATION_LIST,
                    )
                )
            ).all()
            for row in rows:
                await self.status_lists.set_status(conn, SUSPENSION_LIST, row.list_index, suspended)
        self.trust.trusted_issuers.invalidate()
        return {"did": did, "state": new, "credentials": [r.id for r in rows]}


def _authority(request: web.Request) -> Authority:
    return Authority(trust_of(request))


async def _applicant(request: web.Request, trust: Trust) -> IdTokenClaims:
    """The claims of the applicant's ID token (audience: this authority), or a DCP Problem."""
    try:
        return await verify_id_token(
            bearer(request.headers.get("Authorization")),
            trust.resolver,
            audience=trust.did,
            replay_cache=trust.replay,
            leeway=trust.cfg.leeway_s,
            max_lifetime=trust.cfg.max_token_lifetime_s,
        )
    except IdentityError as exc:
        raise dcp_problem(exc) from None


async def post_membership_request(request: web.Request) -> web.Response:
    authority = _authority(request)
    claims = await _applicant(request, authority.trust)
    if not claims.did.startswith("did:web:"):
        raise Problem(400, "Bad Request", detail="members are identified by did:web")
    try:
        body = MembershipRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise validation_problem(exc) from None
    result = await authority.receive(claims.did, body)
    return web.json_response(result, status=201 if result["state"] == "approved" else 202)


async def get_own_membership_request(request: web.Request) -> web.Response:
    """GET /authority/v1/membership-requests/{id}: an applicant asks where its application
    stands, with an ID token of its own DID; another party's request is not found, like an
    unknown one, so ids reveal nothing."""
    authority = _authority(request)
    claims = await _applicant(request, authority.trust)
    found = await authority.get_request(_request_id(request))
    if found is None or found["did"] != claims.did:
        raise Problem(404, "Not Found", detail="no such membership request of yours")
    return web.json_response(
        {k: found[k] for k in ("id", "state", "detail", "createdAt", "decidedAt")}
    )


def _request_id(request: web.Request) -> str:
    value = request.match_info["request_id"]
    if not value or len(value) > REQUEST_ID_MAX or not value.isalnum():
        raise Problem(404, "Not Found", detail="no such membership request")
    return value


async def list_requests(request: web.Request) -> web.Response:
    state = request.query.get("state")
    if state is not None and state not in STATES:
        raise Problem(400, "Bad Request", detail="state: one of " + ", ".join(STATES))
    return web.json_response(await _authority(request).list_requests(state))


async def approve_request(request: web.Request) -> web.Response:
    return web.json_response(await _authority(request).approve(_request_id(request)))


async def reject_request(request: web.Request) -> web.Response:
    raw = await request.read()
    reason = ""
    if raw:
        try:
            reason = RejectBody.model_validate(await read_json(request)).reason
        except ValidationError as exc:
            raise validation_problem(exc) from None
    return web.json_response(await _authority(request).reject(_request_id(request), reason))


async def list_members(request: web.Request) -> web.Response:
    everyone = request.query.get("all") in ("1", "true")
    return web.json_response(await _authority(request).registry.list(active_only=not everyone))


def _member_did(request: web.Request) -> str:
    did = request.match_info["did"]
    if not did.startswith("did:") or len(did) > 500:
        raise Problem(404, "Not Found", detail="no such member")
    return did


async def revoke_member(request: web.Request) -> web.Response:
    return web.json_response(await _authority(request).revoke(_member_did(request)))


async def suspend_member(request: web.Request) -> web.Response:
    return web.json_response(await _authority(request).suspend(_member_did(request)))


async def reinstate_member(request: web.Request) -> web.Response:
    return web.json_response(await _authority(request).reinstate(_member_did(request)))


class StateQuery(BaseModel):
    state: Literal["pending", "approving", "approved", "rejected", "failed"] | None = None


class MembersQuery(BaseModel):
    all: Literal["1", "true", "0", "false"] | None = Field(
        default=None, description="1 or true: every member, not only the active ones"
    )


_ON_MEMBER = "The member's credentials' status bits flip at once (Bitstring Status List)."
ROUTES = [
    Route(
        "GET",
        "/authority/requests",
        list_requests,
        "Authority: membership requests",
        query=StateQuery,
        response=tv.REQUESTS,
    ),
    Route(
        "POST",
        "/authority/requests/{request_id}/approve",
        approve_request,
        "Authority: admit the applicant (issue and deliver its credentials)",
        response=tv.ApprovedRequestView,
        errors=(409, 502),
    ),
    Route(
        "POST",
        "/authority/requests/{request_id}/reject",
        reject_request,
        "Authority: refuse a membership request",
        request=RejectBody,
        body_required=False,
        response=tv.MembershipRequestView,
        errors=(409,),
        example={"reason": "not a legal entity of the region"},
    ),
    Route(
        "GET",
        "/authority/members",
        list_members,
        "Authority: the participant registry",
        query=MembersQuery,
        response=tv.MEMBERS,
    ),
    Route(
        "POST",
        "/authority/members/{did}/revoke",
        revoke_member,
        "Authority: revoke a member (final)",
        response=tv.RevocationView,
        description=_ON_MEMBER,
    ),
    Route(
        "POST",
        "/authority/members/{did}/suspend",
        suspend_member,
        "Authority: suspend a member (reversible)",
        response=tv.SuspensionView,
        errors=(409,),
        description=_ON_MEMBER,
    ),
    Route(
        "POST",
        "/authority/members/{did}/reinstate",
        reinstate_member,
        "Authority: reinstate a suspended member",
        response=tv.SuspensionView,
        errors=(409,),
        description=_ON_MEMBER,
    ),
]


def mount(root: web.Application, api: web.Application) -> None:
    root.router.add_post("/authority/v1/membership-requests", post_membership_request)
    root.router.add_get(
        "/authority/v1/membership-requests/{request_id}", get_own_membership_request
    )
    add_routes(api, ROUTES)
