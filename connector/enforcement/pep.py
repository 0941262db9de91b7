"""The data plane's policy enforcement point: usage control on every NGSI-LD request.

Installed as ``ctx.components["ngsild.pep"]`` (see :mod:`connector.ngsild.pep` for the seam).
Per request, in this order:

1. **Who.** The admin key is the owner: full access, nothing recorded. Any other bearer token
   must be a transfer access token: :meth:`AccessTokens.verify_access_token` checks signature,
   expiry, consumer binding and that the transfer is STARTED; later requests with the same
   token re-read only the transfer's state (:mod:`connector.enforcement.grants`), so a
   suspension or termination revokes access from the next request on. Failure: 401 with the
   reason. A token bound to the consumer's key (an offer with ``tokenBinding: dpop``) is only
   good as ``Authorization: DPoP <token>`` with a valid DPoP proof by that key (RFC 9449,
   :mod:`identity.dpop`): 401 with ``WWW-Authenticate: DPoP error="invalid_dpop_proof"``
   otherwise. Bearer tokens stay the default and work as before.
2. **What the agreement allows.** The agreement is compiled once per id
   (:class:`~connector.enforcement.agreements.AgreementCache`); its narrowing for the action
   (``read`` for retrieval, query, discovery, subscriptions; ``modify`` for writes) intersected
   with the dataset's scope gives the entity types, attributes and area. A request that names
   only types or attributes outside them is refused (403); otherwise it is narrowed, so every
   endpoint answers from the narrowed scope.
3. **Decision.** The compiled policy decides against the request context: ``dateTime`` (now),
   ``elapsedTime`` (from the agreement's timestamp), ``purpose`` (header ``Agora-Purpose``),
   ``recipient`` (the consumer's DID), the narrowed types/attributes/area; then ``count``
   constraints are consumed atomically in the shared SQL usage store
   (:func:`policies.usage.authorize`), exact across replicas on one PostgreSQL. Under a
   clock-free policy (no time or credential operand) an equal request reuses the earlier permit
   (:meth:`AgreementPep._decided`); counting, the state check and the record still happen.
4. **Evidence.** Every permitted or refused request of an authenticated consumer appends a
   provenance record (see :mod:`connector.enforcement.evidence`); permitted data is only
   answered once its record is durable.

Constraints on the caller's credentials (``agora:credentialType``, ``role``, ``claim``,
``consent``) are decided on every request too, against the consumer's verified credentials the
provider kept with the agreement when it negotiated, restricted to those still valid now (an
expired ConsentCredential no longer counts); signatures and revocation are checked at
negotiation, see :mod:`connector.dsp.claims`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from aiohttp import web

from connector.dsp.access_tokens import AccessDenied, TransferGrant
from connector.enforcement import requested
from connector.enforcement.access import ACCESS_KEY, Access, Refusal
from connector.enforcement.agreements import AgreementCache, CompiledAgreement, ScopeLimits
from connector.enforcement.evidence import Evidence
from connector.enforcement.grants import Grants
from connector.enforcement.notifications import AgreementNotificationGuard
from connector.http.auth import ADMIN, PRINCIPAL_KEY, Principal, bearer_token, is_admin_key
from connector.http.context import CTX
from connector.http.problems import Problem
from connector.ngsild.pep import FULL_ACCESS, READ_OPERATIONS, AccessScope
from identity.dpop import ALGORITHMS, verify_proof
from identity.errors import TokenError
from identity.replay import ReplayCache
from policies import EvaluationRequest, PoliciesError, Verdict, World
from policies.explain import exhausted, explain_report
from policies.report import CounterSpec
from policies.usage import UsageStore

PURPOSE_HEADER = "Agora-Purpose"
AGREEMENT_PRINCIPAL = "agreement"
DPV = "https://w3id.org/dpv#"
FORBIDDEN_TYPE = "https://uri.etsi.org/ngsi-ld/errors/OperationNotSupported"
#: the operation of a GET on a plain HTTP source (``connector.enforcement.http_data``)
SOURCE_OPERATION = "source.retrieve"
#: permits remembered per agreement before the memo starts over
MEMO_SIZE = 256


def action_of(operation: str) -> str:
    """``read`` for anything that only discloses data (subscriptions too); else ``modify``."""
    if operation in READ_OPERATIONS:
        return "read"
    family, _, verb = operation.partition(".")
    if family in ("subscription", "subscriptions", "notification"):
        return "read"
    if verb in ("query", "retrieve", "list"):
        return "read"
    return "modify"


def purpose_iri(raw: str) -> str:
    """``dpv:AcademicResearch`` and plain ``AcademicResearch`` stand for the DPV IRI."""
    raw = raw.strip()
    if raw.startswith("dpv:"):
        return DPV + raw[4:]
    if ":" not in raw:
        return DPV + raw
    return raw


@lru_cache(maxsize=1024)
def _evaluation_request(action: str, target: str, assignee: str) -> EvaluationRequest:
    """Immutable and the same for every request of a transfer: built once."""
    return EvaluationRequest.create(action, target=target, assignee=assignee)


def _name(iri: str) -> str:
    return iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def _short(iris: set[str] | frozenset[str], other: set[str] | frozenset[str] = frozenset()) -> str:
    """Short names, unless one reads like a name of ``other`` while being another IRI: then
    the full IRIs, or "AirQualityObserved is not AirQualityObserved" would explain nothing."""
    if {_name(i) for i in iris} & {_name(o) for o in other}:
        return ", ".join(sorted(iris))
    return ", ".join(sorted(_name(i) for i in iris))


class AgreementPep:
    """The PolicyEnforcementPoint for transfer access tokens (owner keeps full access)."""

    def __init__(
        self,
        grants: Grants,
        agreements: AgreementCache,
        usage: UsageStore,
        evidence: Evidence,
        *,
        replay: ReplayCache | None = None,
        overlap: bool = True,
    ) -> None:
        self.replay = replay
        self.grants = grants
        self.agreements = agreements
        self.usage = usage
        self.evidence = evidence
        self.overlap = overlap
        self.notifications: AgreementNotificationGuard | None = None
        #: checks outside the ODRL decision, by agreement id: None, or why access is refused now
        #: (the marketplace's payment gate: an agreement suspended for non-payment)
        self.gates: list[Callable[[str], Awaitable[str | None]]] = []
        #: told of each answered request under an agreement: (agreement id, usage) with usage
        #: ``{"requests": 1, "entities": n, "bytes": n}`` (the marketplace's usage meter)
        self.meters: list[Callable[[str, dict[str, int]], Awaitable[None]]] = []

    async def _gated(self, access: Access) -> None:
        for gate in self.gates:
            reason = await gate(access.grant.agreement_id)
            if reason is not None:
                raise Refusal("denied — " + reason)

    async def scope_for(
        self, request: web.Request, operation: str, target_types: set[str] | None
    ) -> AccessScope:
        token, dpop = _dpop_token(request)
        if token is None:
            token = bearer_token(request)
        if token is None:
            raise _unauthorized("send a transfer access token as 'Authorization: Bearer <token>'")
        # a token kept as a grant was found not to be the admin key when it was first seen
        if not dpop and not self.grants.known(token) and is_admin_key(request, token):
            request[PRINCIPAL_KEY] = Principal(ADMIN, self.evidence.provider_did)
            return FULL_ACCESS
        try:
            grant, state_checked = await self.grants.verify(token)
        except AccessDenied as exc:
            raise _unauthorized(exc.reason) from None
        await self._check_binding(request, grant, token, dpop)
        request[PRINCIPAL_KEY] = Principal(
            AGREEMENT_PRINCIPAL, grant.consumer_did, {"agreementId": grant.agreement_id}
        )
        try:
            agreement = await self.agreements.get(grant)
        except PoliciesError as exc:
            raise Problem(
                403,
                "Forbidden",
                detail=f"denied — the agreement cannot be enforced: {exc}",
                type_=FORBIDDEN_TYPE,
                agreementId=grant.agreement_id,
            ) from None
        access = Access(grant, agreement, operation, action_of(operation))
        access.state_checked = state_checked
        request[ACCESS_KEY] = access
        try:
            try:
                if self.gates:
                    await self._gated(access)
                scope, verdict = await self._decided(request, access, target_types)
            except Refusal:
                if not access.state_checked:
                    await self.grants.check(grant)  # a revoked transfer is a 401, not a 403
                raise
            access.decision = "permit"
            access.scope = scope
            if not access.state_checked:
                access.state_checked = self.grants.check_inline(grant)
            if access.state_checked and self._taken_ahead(access, verdict):
                return scope  # state read and counters settled without waiting
            confirm = self._confirm(access, verdict)
            if access.action == "read" and self.overlap:
                # Reads run their query while the state read and the counter consume are in
                # flight; after() waits for both before anything is answered.
                access.confirming = asyncio.ensure_future(confirm)
            else:
                await confirm
        except AccessDenied as exc:
            access.recorded = True  # 401s name no agreement we act under: logged, not recorded
            raise _unauthorized(exc.reason) from None
        except Refusal as refusal:
            raise await self._refuse(request, access, refusal) from None
        return scope

    async def _check_binding(
        self, request: web.Request, grant: TransferGrant, token: str, dpop: bool
    ) -> None:
        """A key-bound token needs the DPoP scheme and a proof of this request by that key;
        a bearer token the Bearer scheme (RFC 9449 §7.1)."""
        if grant.jkt is None:
            if dpop:
                raise _unauthorized(
                    "this access token is a bearer token: send it as 'Authorization: Bearer'"
                )
            return
        if not dpop:
            raise _dpop_unauthorized(
                "invalid_token",
                "this access token is bound to the consumer's key (DPoP, RFC 9449): send it as "
                "'Authorization: DPoP <token>' with a DPoP proof header",
            )
        proofs = request.headers.getall("DPoP", [])
        if len(proofs) != 1:
            raise _dpop_unauthorized("invalid_dpop_proof", "send exactly one DPoP header")
        if self.replay is None:
            raise _dpop_unauthorized("invalid_dpop_proof", "this data plane checks no proofs")
        public = request.app[CTX].settings.public_url.rstrip("/")
        try:
            await verify_proof(
                proofs[0],
                method=request.method,
                url=public + request.path,
                access_token=token,
                expected_jkt=grant.jkt,
                replay=self.replay,
            )
        except TokenError as exc:
            raise _dpop_unauthorized("invalid_dpop_proof", exc.detail) from None

    async def after(
        self,
        request: web.Request,
        operation: str,
        scope: AccessScope,
        response_summary: dict[str, Any],
    ) -> None:
        access = request.get(ACCESS_KEY)
        if access is None:
            return  # the owner: nothing to enforce or record
        await self.settle(request, access)
        if operation == "subscription.create" and self.notifications is not None:
            for subscription_id in response_summary.get("ids", []):
                await self.notifications.bind(
                    subscription_id, access.grant, request.headers.get(PURPOSE_HEADER)
                )
        await self.evidence.record(request, access, response_summary)
        if self.meters and access.decision == "permit":
            status = int(response_summary.get("status", 200))
            if status < 400:
                used = {
                    "requests": 1,
                    "entities": len(response_summary.get("ids", ())),
                    "bytes": int(response_summary.get("bytes", 0)),
                }
                for meter in self.meters:
                    await meter(access.grant.agreement_id, used)

    async def settle(self, request: web.Request, access: Access) -> None:
        """Wait for an overlapped confirmation; a Problem if it refused the request."""
        task, access.confirming = access.confirming, None
        if task is None:
            return
        try:
            await task
        except AccessDenied as exc:
            access.decision = "deny"
            access.recorded = True
            raise _unauthorized(exc.reason) from None
        except Refusal as refusal:
            raise await self._refuse(request, access, refusal) from None

    async def _refuse(self, request: web.Request, access: Access, refusal: Refusal) -> Problem:
        access.decision = "deny"
        access.reason = refusal.text
        access.pending_duties = ()
        await self.evidence.record(request, access, {"status": 403, "detail": refusal.text})
        return Problem(
            403,
            "Forbidden",
            detail=refusal.text,
            type_=FORBIDDEN_TYPE,
            agreementId=access.grant.agreement_id,
        )

    async def authorize(
        self,
        access: Access,
        limits: ScopeLimits,
        types: frozenset[str] | None,
        attrs: frozenset[str] | None,
        purpose: str | None,
    ) -> None:
        """Decide and confirm ``access`` outside an HTTP request (a notification about to be
        sent): raises :class:`Refusal`, or ``AccessDenied`` when the transfer is no longer
        STARTED."""
        await self._confirm(access, self.evaluate(access, limits, types, attrs, purpose))

    def evaluate(
        self,
        access: Access,
        limits: ScopeLimits,
        types: frozenset[str] | None,
        attrs: frozenset[str] | None,
        purpose: str | None,
        requested_types: set[str] | None = None,
    ) -> Verdict:
        """The compiled decision for this access (no I/O); :class:`Refusal` if not permitted.
        Sets the duties the access owes."""
        agreement = access.agreement
        values: dict[str, Any] = {"recipient": access.grant.consumer_did}
        if purpose:
            values["purpose"] = purpose_iri(purpose)
        if types is not None:
            values["ngsi-ld:entityType"] = limits.names(types)
        elif requested_types:
            values["ngsi-ld:entityType"] = sorted(requested_types)
        if limits.attributes is not None:
            values["ngsi-ld:attribute"] = limits.names(
                attrs if attrs is not None else limits.attributes
            )
        if limits.area is not None:
            values["ngsi-ld:area"] = limits.area
        compiled = agreement.compiled
        ev_request = _evaluation_request(access.action, agreement.target, access.grant.consumer_did)
        now = datetime.now(UTC)
        claims, consents = agreement.credentials.at(now)
        world = World(
            now=now,
            values=values,
            claims=claims,
            consents=consents,
            fulfilled=agreement.deferred,
            agreement_start=agreement.start,
        )
        verdict = compiled.decide(ev_request, world)
        if not verdict.permitted:
            text = explain_report(compiled.explain(ev_request, world), world)
            if "purpose" in text.lower():
                text += (
                    f" (declared purpose: {purpose}; set it with the {PURPOSE_HEADER} header)"
                    if purpose
                    else f" (no purpose declared: send the {PURPOSE_HEADER} header, e.g."
                    f" '{PURPOSE_HEADER}: research')"
                )
            raise Refusal(text + agreement.credentials.lapsed(now))
        owed = [d if isinstance(d, str) else d.key for d in verdict.pending_duties]
        owed += [k for k in agreement.deferred if k in agreement.duties]
        access.pending_duties = tuple(dict.fromkeys(owed))
        return verdict

    def _taken_ahead(self, access: Access, verdict: Verdict) -> bool:
        """No counter, or the one counter served from units the store took ahead."""
        if not verdict.counters:
            return True
        take = getattr(self.usage, "take_reserved", None)
        if take is None or len(verdict.counters) != 1:
            return False
        now = datetime.now(UTC)
        taken = take(access.grant.agreement_id, verdict.counters[0], now)
        if taken is None:
            return False
        access.quotas.append((verdict.counters[0], taken))
        return True

    async def _confirm(self, access: Access, verdict: Verdict) -> None:
        """The transfer still STARTED and every counter consumed, concurrently; a consumed
        unit is given back if the transfer turned out revoked."""
        aid = access.grant.agreement_id
        now = datetime.now(UTC)
        consumed: list[CounterSpec] = []

        async def state() -> None:
            if not access.state_checked:
                await self.grants.check(access.grant)

        async def consume() -> None:
            for spec in verdict.counters:
                result = await self.usage.consume(aid, spec, now)
                access.quotas.append((spec, result))
                if not result.ok:
                    for done in consumed:
                        await self.usage.release(aid, done, now)
                    consumed.clear()
                    raise Refusal("denied — " + exhausted(spec, result))
                consumed.append(spec)

        if access.state_checked or not verdict.counters:
            await (consume() if access.state_checked else state())  # one step: no extra tasks
            return
        outcomes = await asyncio.gather(state(), consume(), return_exceptions=True)
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        if not errors:
            return
        denied = next((e for e in errors if isinstance(e, AccessDenied)), None)
        if denied is not None:
            for done in consumed:
                await self.usage.release(aid, done, now)
            raise denied
        raise errors[0]

    # ------------------------------------------------------------------ the decision

    async def _decided(
        self, request: web.Request, access: Access, target_types: set[str] | None
    ) -> tuple[AccessScope, Verdict]:
        """:meth:`_decide`, or the permit an equal request got before under this agreement.

        A consumer's application sends the same few requests again and again. When the policy
        is clock-free (its verdict depends only on what the request states) and the request's
        scope is read from its query string and headers alone, the scope, verdict and owed
        duties of an earlier permit are reused: the decision is the same by construction.
        Counters are consumed, the transfer's state checked and the access recorded anew for
        every request all the same. Refusals are always decided afresh (they explain why)."""
        agreement = access.agreement
        key = self._memo_key(request, access, target_types)
        if key is not None:
            hit = agreement.decisions.get(key)
            if hit is not None:
                scope, verdict, access.pending_duties = hit
                return scope, verdict
        scope, verdict = await self._decide(request, access, target_types)
        if key is not None:
            if len(agreement.decisions) >= MEMO_SIZE:
                agreement.decisions.clear()
            agreement.decisions[key] = (scope, verdict, access.pending_duties)
        return scope, verdict

    @staticmethod
    def _memo_key(
        request: web.Request, access: Access, target_types: set[str] | None
    ) -> tuple[Any, ...] | None:
        """What the decision of this request depends on, or None when it cannot be reused: a
        policy that reads the clock or credentials, a body that names types (batch query), or
        a retrieval by id that must be checked against the agreement's area."""
        agreement = access.agreement
        if not agreement.compiled.clock_free or access.operation == "batch.query":
            return None
        if access.operation == "entity.retrieve":
            limits = agreement.limits(access.action)
            if limits is not None and limits.area is not None:
                return None
        query = request.query
        headers = request.headers
        return (
            access.operation,
            request.path if access.operation == SOURCE_OPERATION else None,
            frozenset(target_types) if target_types else None,
            query.get("type"),
            query.get("attrs") if access.action == "read" else None,
            headers.get("Link"),
            headers.get(PURPOSE_HEADER),
        )

    async def _decide(
        self, request: web.Request, access: Access, target_types: set[str] | None
    ) -> tuple[AccessScope, Verdict]:
        agreement = access.agreement
        if (access.operation == SOURCE_OPERATION) != agreement.http_source:
            raise Refusal(_wrong_plane(agreement, access.operation))
        if access.operation == SOURCE_OPERATION:
            wanted = request.match_info.get("datasetId", "")
            if wanted != agreement.target:
                raise Refusal(
                    f"denied — this agreement covers dataset {agreement.target}, not {wanted}"
                )
        if access.action == "modify" and not agreement.may_modify:
            raise Refusal(
                "denied — this agreement lets you read the data, not change it "
                "(no 'modify' permission)"
            )
        limits = agreement.limits(access.action)
        if limits is None:
            raise Refusal(f"denied — no permission of this agreement covers '{access.action}'")
        source = access.operation == SOURCE_OPERATION  # its query is the upstream's, not ours
        requested_types = (
            set()
            if source
            else target_types or await requested.requested_types(request, access.operation)
        )
        types = limits.types
        if requested_types and types is not None:
            if access.action == "modify":
                outside = requested_types - types
            else:
                outside = requested_types if not requested_types & types else set()
            if outside:
                raise Refusal(
                    f"denied — this agreement covers only entity types {_short(types, outside)}"
                    f"; {_short(outside, types)} {'is' if len(outside) == 1 else 'are'} not part"
                    " of it"
                )
            types = types & requested_types
        attrs = limits.attributes
        requested_attrs = (
            requested.requested_attrs(request) if access.action == "read" and not source else None
        )
        if requested_attrs and attrs is not None:
            if not requested_attrs & attrs:
                raise Refusal(
                    f"denied — this agreement covers only the attributes {_short(attrs)}; "
                    f"{_short(requested_attrs)} {'is' if len(requested_attrs) == 1 else 'are'} "
                    "not part of it"
                )
            attrs = attrs & requested_attrs
        if access.operation == "entity.retrieve" and limits.area is not None:
            await requested.require_inside(request, limits.area)
        verdict = self.evaluate(
            access, limits, types, attrs, request.headers.get(PURPOSE_HEADER), requested_types
        )
        scope = AccessScope(
            entity_types=types,
            attributes=attrs,
            area=limits.area,
            may_write=access.action == "modify",
        )
        return scope, verdict


def _wrong_plane(agreement: CompiledAgreement, operation: str) -> str:
    if agreement.http_source:
        return (
            f"denied — dataset {agreement.target} is served as HTTP data: GET the endpoint of"
            " the transfer's data address"
        )
    return f"denied — dataset {agreement.target} is served by the NGSI-LD API, not as {operation}"


def _dpop_token(request: web.Request) -> tuple[str | None, bool]:
    """The token of ``Authorization: DPoP <token>`` and True; (None, False) for any other."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "dpop":
        return (token.strip() or None), True
    return None, False


def _dpop_unauthorized(error: str, reason: str) -> Problem:
    algs = " ".join(ALGORITHMS)
    return Problem(
        401,
        "Unauthorized",
        detail=reason,
        headers={"WWW-Authenticate": f'DPoP algs="{algs}", error="{error}"'},
    )


def _unauthorized(reason: str) -> Problem:
    return Problem(
        401,
        "Unauthorized",
        detail=reason,
        headers={"WWW-Authenticate": 'Bearer realm="agora", error="invalid_token"'},
    )
