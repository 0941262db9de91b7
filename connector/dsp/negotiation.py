"""Contract negotiation, both roles: the DSP endpoints, the provider's automatic decisions and
the consumer's automatic verification, all driven by :mod:`connector.dsp.negotiation_states`.

Incoming message: authenticate the caller, validate the schema, then in one transaction lock
the negotiation, treat an identical retry as an ACK, check the transition in the table, apply
it, and queue our reaction (which applies the sender side of the table) in the outbox.
"""

from __future__ import annotations

import json
from typing import Any

import rfc8785
from aiohttp import web
from sqlalchemy import insert, select

from connector.dsp import messages as m
from connector.dsp import process
from connector.dsp.agreements import (
    SIGNATURE,
    SignatureInvalid,
    build_agreement,
    check_signature,
    sign_agreement,
    signed,
    unsigned,
)
from connector.dsp.auth import Caller
from connector.dsp.callbacks import is_pid, join, segment
from connector.dsp.catalog import find_offer, new_id, offer_choices
from connector.dsp.claims import uses_claims
from connector.dsp.errors import Area, Code, DspError
from connector.dsp.extensions import AGREEMENT_SIGNATURE, from_catalog, signs_agreements
from connector.dsp.negotiation_states import (
    TRANSITIONS,
    IllegalTransition,
    NMessage,
    NState,
    Role,
    next_state,
)
from connector.dsp.outbox import send_to_peer
from connector.dsp.pending import (
    ACCEPT,
    AGREE,
    FINALIZE,
    OFFER,
    VERIFY,
    NotPending,
    is_manual,
    pending_view,
)
from connector.dsp.process import is_retry, note_applied, remember, seen
from connector.dsp.runtime import (
    Dsp,
    after_commit,
    digest,
    now,
    path_pids,
    serialize_on,
)
from connector.dsp.tables import agreements, negotiations
from connector.storage.inline import Conn
from identity.did_document import DidDocument
from identity.errors import IdentityError

KIND = "negotiation"
AREA = Area.NEGOTIATION
RULE_KEYS = ("permission", "prohibition", "obligation")


def kind_of(message: dict[str, Any]) -> NMessage:
    t = message["@type"]
    if t == "ContractNegotiationEventMessage":
        return NMessage(f"{t}:{message['eventType']}")
    return NMessage(t)


def state_of(row: Any) -> NState:
    return NState(row.state)


def ack(row: Any, state: NState | None = None) -> dict[str, Any]:
    """The ContractNegotiation we answer with: the process in ``state`` (default: stored)."""
    return m.negotiation(
        row.provider_pid or "", row.consumer_pid or "", state.value if state else str(row.state)
    )


def _err(status: int, code: Code, reason: str, row: Any = None, **pids: str | None) -> DspError:
    return process.error(AREA, status, code, reason, row, **pids)


def same_terms(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Do two offers carry the same rules (ignoring ids, types and target)?"""
    pick = lambda o: {k: o[k] for k in RULE_KEYS if k in o}  # noqa: E731
    return bool(rfc8785.dumps(pick(a)) == rfc8785.dumps(pick(b)))


async def lock(conn: Conn, pid: str) -> Any:
    return await process.lock(conn, negotiations, pid)


async def set_fields(conn: Conn, pid: str, **values: Any) -> Any:
    return await process.set_fields(conn, negotiations, KIND, pid, **values)


class Negotiations:
    """The negotiation service of one connector (both roles)."""

    def __init__(self, dsp: Dsp) -> None:
        self.dsp = dsp

    # ------------------------------------------------------------------ sending

    def peer_url(self, row: Any, suffix: str) -> str:
        if row.role == Role.PROVIDER:
            return join(row.counterparty_address, "negotiations", segment(row.consumer_pid), suffix)
        return join(row.counterparty_address, "negotiations", segment(row.provider_pid), suffix)

    async def send(
        self,
        conn: Conn,
        row: Any,
        kind: NMessage,
        message: dict[str, Any],
        url: str,
        **fields: Any,
    ) -> NState:
        """Queue ``message`` and apply our side of the transition in the same transaction (a
        decision the process was waiting for is taken by it)."""
        new = next_state(state_of(row) if row.state else None, kind, Role(row.role))
        if row.pending_decision is not None:
            fields.setdefault("pending_decision", None)
        await set_fields(conn, row.pid, state=new.value, **fields)
        await send_to_peer(conn, KIND, row, message, url)
        return new

    async def terminate(
        self, conn: Conn, row: Any, reason: str, code: str = "Terminated"
    ) -> NState:
        msg = m.negotiation_termination(row.provider_pid, row.consumer_pid, code, reason)
        return await self.send(
            conn, row, NMessage.TERMINATION, msg, self.peer_url(row, "termination"), error=reason
        )

    # ------------------------------------------------------------ operator decisions

    def manual(self, row: Any, decision: str, stored: str | None = None) -> bool:
        choices = stored if stored is not None else row.decisions
        return is_manual(self.dsp.decision_defaults, choices, decision)

    async def hold(self, conn: Conn, row: Any, decision: str, **fields: Any) -> Any:
        """Leave the process in its state until the operator (or the timeout) decides."""
        row = await set_fields(
            conn, row.pid, pending_decision=decision, pending_since=now(), **fields
        )
        view = pending_view(KIND, row)
        after_commit(conn, lambda: self.dsp.board.waiting(view))
        return row

    async def take(self, conn: Conn, row: Any, approve: bool, reason: str | None = None) -> None:
        """The operator's (or the timeout's) answer to the decision ``row`` waits for."""
        decision = row.pending_decision
        if decision is None:
            raise NotPending(f"negotiation {row.pid} waits for no decision")
        if not approve:
            await self.terminate(
                conn, row, reason or f"{decision}: declined by the operator", "Declined"
            )
            return
        if decision == AGREE:
            await self.approve(conn, row)
        elif decision == OFFER:
            ours = json.loads(row.offer)
            offer = {**ours, "target": row.dataset_id}
            msg = m.contract_offer(row.provider_pid, offer, consumer_pid=row.consumer_pid)
            await self.send(conn, row, NMessage.OFFER, msg, self.peer_url(row, "offers"))
        elif decision == FINALIZE:
            event = m.negotiation_event(row.provider_pid, row.consumer_pid, "FINALIZED")
            await self.send(conn, row, NMessage.FINALIZED, event, self.peer_url(row, "events"))
        elif decision == ACCEPT:
            event = m.negotiation_event(row.provider_pid, row.consumer_pid, "ACCEPTED")
            await self.send(conn, row, NMessage.ACCEPTED, event, self.peer_url(row, "events"))
        elif decision == VERIFY:
            await self._verify(conn, row)
        else:
            raise NotPending(f"negotiation {row.pid} waits for an unknown decision {decision}")

    async def _verify(self, conn: Conn, row: Any) -> None:
        verification = m.agreement_verification(row.provider_pid, row.consumer_pid)
        await self.send(
            conn,
            row,
            NMessage.VERIFICATION,
            verification,
            self.peer_url(row, "agreement/verification"),
        )

    async def _offered(self, conn: Conn, row: Any) -> None:
        """Consumer: the provider offered; accept at once or wait for the operator."""
        if self.manual(row, ACCEPT):
            await self.hold(conn, row, ACCEPT)
            return
        event = m.negotiation_event(row.provider_pid, row.consumer_pid, "ACCEPTED")
        await self.send(conn, row, NMessage.ACCEPTED, event, self.peer_url(row, "events"))

    # ------------------------------------------------------------ provider logic

    async def _decide(
        self, conn: Conn, row: Any, requested: dict[str, Any] | None, caller: Caller
    ) -> None:
        """Provider: agree, counter with our offer, hold for the operator, or terminate.

        ``row.offer`` is always *our* last offer (the catalog offer requested, or the operator's
        counter-offer); terms the consumer requested that are not an offer of ours are answered
        with ours, never agreed to as they stand. An offer published with ``approval: manual``
        is held in REQUESTED, once the policy check passed, until the operator decides
        (``agree``, ``offer``, ``terminate`` in the management API)."""
        dataset_id = row.dataset_id
        ours: dict[str, Any] | None = None
        choices = row.decisions
        if requested is not None:
            found = await find_offer(conn, requested.get("@id", ""))
            if found is not None:
                dataset_id, ours = found
                choices = await offer_choices(conn, ours["@id"])
        if ours is None and row.offer:
            ours = json.loads(row.offer)
        if ours is None or dataset_id is None:
            await self.terminate(conn, row, "the offer is not one of ours", Code.UNKNOWN_OFFER)
            return
        if requested is not None and not same_terms(requested, ours):
            if self.manual(row, OFFER, choices):
                await self.hold(
                    conn,
                    row,
                    OFFER,
                    offer=json.dumps(ours),
                    dataset_id=dataset_id,
                    decisions=choices,
                )
                return
            offer = {**ours, "target": dataset_id}
            msg = m.contract_offer(row.provider_pid, offer, consumer_pid=row.consumer_pid)
            await self.send(
                conn,
                row,
                NMessage.OFFER,
                msg,
                self.peer_url(row, "offers"),
                offer=json.dumps(ours),
                decisions=choices,
            )
            return
        decision = await self.dsp.decider.decide(ours, dataset_id, caller)
        if not decision.permit:
            await self.terminate(conn, row, decision.reason, decision.code or Code.POLICY_DENIED)
            return
        credentials = list(caller.credentials) if uses_claims(ours) else None
        if self.manual(row, AGREE, choices) and (
            # an accepted counter-offer of the operator's own: that was the decision
            requested is not None or await find_offer(conn, ours.get("@id", "")) is not None
        ):
            await self.hold(
                conn,
                row,
                AGREE,
                offer=json.dumps(ours),
                dataset_id=dataset_id,
                consumer_credentials=json.dumps(credentials) if credentials is not None else None,
                awaiting_approval=True,
                decisions=choices,
            )
            return
        if choices != row.decisions:
            row = await set_fields(conn, row.pid, decisions=choices)
        await self.agree(conn, row, ours, dataset_id, credentials)

    async def agree(
        self,
        conn: Conn,
        row: Any,
        ours: dict[str, Any],
        dataset_id: str,
        credentials: list[dict[str, Any]] | None,
    ) -> None:
        """Provider: build, sign, store and send the agreement on ``ours``."""
        agreement = build_agreement(
            ours, target=dataset_id, assigner=self.dsp.did, assignee=row.counterparty_did
        )
        signature = sign_agreement(self.dsp.identity, agreement)
        await conn.execute(
            insert(agreements).values(
                id=agreement["@id"],
                negotiation_pid=row.pid,
                provider_did=self.dsp.did,
                consumer_did=row.counterparty_did,
                target=dataset_id,
                agreement=json.dumps(agreement),
                signature=signature,
                consumer_credentials=json.dumps(credentials) if credentials is not None else None,
                created_at=now(),
            )
        )
        msg = m.contract_agreement(row.provider_pid, row.consumer_pid, signed(agreement, signature))
        await self.send(
            conn,
            row,
            NMessage.AGREEMENT,
            msg,
            self.peer_url(row, "agreement"),
            agreement_id=agreement["@id"],
            awaiting_approval=False,
        )

    async def finalize(self, conn: Conn, row: Any) -> None:
        """Provider: end a VERIFIED negotiation with the FINALIZED event."""
        event = m.negotiation_event(row.provider_pid, row.consumer_pid, "FINALIZED")
        await self.send(conn, row, NMessage.FINALIZED, event, self.peer_url(row, "events"))

    async def approve(self, conn: Conn, row: Any) -> None:
        """Provider, operator's decision: agree to the offer a held request asked for."""
        if row.role != Role.PROVIDER or not row.offer or not row.dataset_id:
            raise IllegalTransition(state_of(row), NMessage.AGREEMENT, Role(row.role))
        held = json.loads(row.consumer_credentials) if row.consumer_credentials else None
        await self.agree(conn, row, json.loads(row.offer), row.dataset_id, held)

    async def counter_offer(self, conn: Conn, row: Any, rules: dict[str, Any]) -> None:
        """Provider, operator's decision: answer with other terms (a ContractOfferMessage)."""
        if row.role != Role.PROVIDER or not row.dataset_id:
            raise IllegalTransition(state_of(row), NMessage.OFFER, Role(row.role))
        ours = {**rules, "@id": new_id(), "@type": "Offer"}
        msg = m.contract_offer(
            row.provider_pid, {**ours, "target": row.dataset_id}, consumer_pid=row.consumer_pid
        )
        await self.send(
            conn,
            row,
            NMessage.OFFER,
            msg,
            self.peer_url(row, "offers"),
            offer=json.dumps(ours),
            awaiting_approval=False,
        )

    async def initial_request(self, request: web.Request) -> web.Response:
        """Provider: POST <base>/negotiations/request."""
        dsp = self.dsp
        caller = await dsp.caller(request, AREA)
        msg = await dsp.message(request, "ContractRequestMessage", AREA)
        cpid = msg["consumerPid"]
        if "providerPid" in msg:
            raise _err(
                400,
                Code.MALFORMED,
                "an initial request carries no providerPid",
                consumer_pid=cpid,
                provider_pid=msg["providerPid"],
            )
        callback = await dsp.accept_callback(
            msg.get("callbackAddress"), AREA, caller, consumer_pid=cpid
        )
        offer = msg["offer"]
        d = digest("request", msg)
        async with dsp.transaction() as conn:
            await serialize_on(conn, "negotiation-request", caller.did, cpid)
            existing = (
                await conn.execute(
                    select(negotiations).where(
                        negotiations.c.role == Role.PROVIDER.value,
                        negotiations.c.consumer_pid == cpid,
                        negotiations.c.counterparty_did == caller.did,
                    )
                )
            ).first()
            if existing is not None:
                if await seen(conn, existing.pid, d):
                    return web.json_response(ack(existing, NState.REQUESTED), status=201)
                raise _err(400, Code.MISMATCH, "this consumerPid is already in use", existing)
            found = await find_offer(conn, offer.get("@id", ""))
            if found is None:
                raise _err(
                    400, Code.UNKNOWN_OFFER, "offer.@id is not in our catalog", consumer_pid=cpid
                )
            dataset_id, ours = found
            if offer.get("target", dataset_id) != dataset_id:
                raise _err(
                    400,
                    Code.UNKNOWN_OFFER,
                    "offer.target is not the offer's dataset",
                    consumer_pid=cpid,
                )
            pid = new_id()
            state = next_state(None, NMessage.REQUEST, Role.CONSUMER)
            await conn.execute(
                insert(negotiations).values(
                    pid=pid,
                    role=Role.PROVIDER.value,
                    provider_pid=pid,
                    consumer_pid=cpid,
                    state=state.value,
                    counterparty_did=caller.did,
                    counterparty_address=callback,
                    dataset_id=dataset_id,
                    offer=json.dumps(ours),
                    created_at=now(),
                    updated_at=now(),
                )
            )
            await remember(conn, pid, d)
            row = await lock(conn, pid)
            await self._decide(conn, row, offer, caller)
        return web.json_response(ack(row, state), status=201)

    # ------------------------------------------------------------ consumer logic

    async def initial_offer(self, request: web.Request) -> web.Response:
        """Consumer: POST <base>/negotiations/offers (a provider-initiated negotiation)."""
        dsp = self.dsp
        caller = await dsp.caller(request, AREA)
        msg = await dsp.message(request, "ContractOfferMessage", AREA)
        ppid = msg["providerPid"]
        if "consumerPid" in msg:
            raise _err(
                400,
                Code.MALFORMED,
                "an initial offer carries no consumerPid",
                provider_pid=ppid,
                consumer_pid=msg["consumerPid"],
            )
        callback = await dsp.accept_callback(
            msg.get("callbackAddress"), AREA, caller, provider_pid=ppid
        )
        d = digest("offers", msg)
        async with dsp.transaction() as conn:
            await serialize_on(conn, "negotiation-offer", caller.did, ppid)
            existing = (
                await conn.execute(
                    select(negotiations).where(
                        negotiations.c.role == Role.CONSUMER.value,
                        negotiations.c.provider_pid == ppid,
                        negotiations.c.counterparty_did == caller.did,
                    )
                )
            ).first()
            if existing is not None:
                if await seen(conn, existing.pid, d):
                    return web.json_response(ack(existing, NState.OFFERED), status=201)
                raise _err(400, Code.MISMATCH, "this providerPid is already in use", existing)
            pid = new_id()
            state = next_state(None, NMessage.OFFER, Role.PROVIDER)
            offer = msg["offer"]
            await conn.execute(
                insert(negotiations).values(
                    pid=pid,
                    role=Role.CONSUMER.value,
                    provider_pid=ppid,
                    consumer_pid=pid,
                    state=state.value,
                    counterparty_did=caller.did,
                    counterparty_address=callback,
                    dataset_id=offer.get("target"),
                    offer=json.dumps(offer),
                    created_at=now(),
                    updated_at=now(),
                )
            )
            await remember(conn, pid, d)
            row = await lock(conn, pid)
            await self._offered(conn, row)
        return web.json_response(ack(row), status=201)

    def _check_agreement(self, row: Any, agreement: dict[str, Any]) -> None:
        problems = []
        if agreement.get("assignee") != self.dsp.did:
            problems.append("assignee is not this participant")
        if agreement.get("assigner") != row.counterparty_did:
            problems.append("assigner is not the provider")
        if row.dataset_id and agreement.get("target") != row.dataset_id:
            problems.append("target is not the negotiated dataset")
        if problems:
            raise _err(
                400, Code.MISMATCH, "the agreement is not valid: " + "; ".join(problems), row
            )

    # ------------------------------------------------------------ shared receive

    async def on_process_message(
        self, request: web.Request, message_type: str, path_kind: str
    ) -> web.Response:
        """Every message addressed to an existing negotiation (both roles)."""
        dsp = self.dsp
        pid = request.match_info["pid"]
        caller = await dsp.caller(request, AREA)
        msg = await dsp.message(request, message_type, AREA)
        kind = kind_of(msg)
        signature = None
        if kind is NMessage.AGREEMENT:
            # before anything is locked: resolving the provider's DID may take a request; an
            # unknown process is still a 404 and an agreement the state does not allow is an
            # illegal transition, whatever its signature (both checked again under the lock)
            async with dsp.ctx.db.connect() as conn:
                known = (await conn.execute(process.row_by(negotiations.c.pid), {"k": pid})).first()
                if known is None or known.counterparty_did != caller.did:
                    raise _err(404, Code.NOT_FOUND, "no such negotiation", **_pids(msg))
                sender = Role.CONSUMER if known.role == Role.PROVIDER else Role.PROVIDER
                legal = (state_of(known), kind, sender) in TRANSITIONS
                if not legal and not await is_retry(
                    conn, pid, path_kind, msg, known.state, legal=False
                ):
                    illegal = IllegalTransition(state_of(known), kind, sender)
                    raise _err(400, Code.ILLEGAL_TRANSITION, str(illegal), known)
            if legal:
                try:
                    signature = await self._agreement_signature(caller, msg["agreement"])
                except SignatureInvalid as exc:
                    raise _err(400, Code.BAD_SIGNATURE, exc.reason, **_pids(msg)) from None
        async with dsp.transaction() as conn:
            row = await lock(conn, pid)
            if row is None or row.counterparty_did != caller.did:
                raise _err(404, Code.NOT_FOUND, "no such negotiation", **_pids(msg))
            mine = row.provider_pid if row.role == Role.PROVIDER else row.consumer_pid
            theirs_key = "consumerPid" if row.role == Role.PROVIDER else "providerPid"
            mine_key = "providerPid" if row.role == Role.PROVIDER else "consumerPid"
            theirs = row.consumer_pid if row.role == Role.PROVIDER else row.provider_pid
            if msg.get(mine_key) != mine or (theirs and msg.get(theirs_key) != theirs):
                raise _err(400, Code.MISMATCH, "providerPid/consumerPid do not match", row)
            sender = Role.CONSUMER if row.role == Role.PROVIDER else Role.PROVIDER
            try:
                new: NState | None = next_state(state_of(row), kind, sender)
                problem = None
            except IllegalTransition as exc:
                new, problem = None, str(exc)
            if await is_retry(conn, pid, path_kind, msg, row.state, legal=new is not None):
                return web.json_response(ack(row))
            if new is None:
                raise _err(400, Code.ILLEGAL_TRANSITION, str(problem), row)
            fields: dict[str, Any] = {}
            if row.pending_decision is not None:  # the peer moved on: nothing to decide now
                fields["pending_decision"] = None
            if not theirs:
                fields["provider_pid" if row.role == Role.CONSUMER else "consumer_pid"] = msg[
                    theirs_key
                ]
            if kind is NMessage.AGREEMENT:
                self._check_agreement(row, msg["agreement"])
                await self._store_received_agreement(conn, row, msg["agreement"], signature)
                fields["agreement_id"] = msg["agreement"]["@id"]
            if kind is NMessage.OFFER:  # the provider's offer; a request never replaces ours
                offer = msg["offer"]
                fields["offer"] = json.dumps({k: v for k, v in offer.items() if k != "target"})
            if kind is NMessage.TERMINATION:
                fields["error"] = "; ".join(str(r) for r in msg.get("reason", [])) or "terminated"
            row = await set_fields(conn, pid, state=new.value, **fields)
            await self._react(conn, row, kind, msg, caller)
            # where the message and our automatic reaction left the process: a retry arriving
            # while it is still there is acknowledged
            final = (await conn.execute(process.row_by(negotiations.c.pid), {"k": pid})).one().state
            await note_applied(conn, pid, path_kind, msg, final)
        return web.json_response(ack(row, new))

    async def _agreement_signature(self, caller: Caller, agreement: dict[str, Any]) -> str | None:
        """Consumer: the provider's JWS on ``agreement``, checked against its DID document
        (the sender's: :meth:`_check_agreement` then requires it to be the assigner); None for
        an unsigned agreement from a provider that does not advertise the signature extension
        (a plain DSP 2025-1 peer). A signature that is there must always verify."""
        document = await self._provider_document(caller)
        if agreement.get(SIGNATURE) is None and not await self._signs(caller.did, document):
            return None
        return check_signature(agreement.get(SIGNATURE), agreement, document)

    async def _signs(self, did: str, document: DidDocument) -> bool:
        """Does the provider advertise the signature, in its DID document or its catalog?"""
        if signs_agreements(document):
            return True
        return AGREEMENT_SIGNATURE in await from_catalog(self.dsp.ctx.engine, did)

    async def _provider_document(self, caller: Caller) -> DidDocument:
        try:
            if caller.did == self.dsp.did:
                document = DidDocument.parse(self.dsp.identity.did_document(), caller.did)
            elif self.dsp.resolver is not None:
                document = await self.dsp.resolver.resolve(caller.did)
            else:
                raise SignatureInvalid("no DID resolver to check the provider's signature")
        except IdentityError as exc:
            raise SignatureInvalid(f"the provider's DID document: {exc.detail}") from None
        return document

    async def _store_received_agreement(
        self, conn: Conn, row: Any, agreement: dict[str, Any], signature: str | None
    ) -> None:
        exists = (
            await conn.execute(
                select(agreements.c.negotiation_pid).where(agreements.c.id == agreement["@id"])
            )
        ).first()
        if exists is not None and exists.negotiation_pid != row.pid:
            raise _err(400, Code.MISMATCH, "this agreement id belongs to another negotiation", row)
        if exists is None:
            await conn.execute(
                insert(agreements).values(
                    id=agreement["@id"],
                    negotiation_pid=row.pid,
                    provider_did=agreement["assigner"],
                    consumer_did=agreement["assignee"],
                    target=agreement["target"],
                    agreement=json.dumps(unsigned(agreement)),
                    signature=signature,
                    created_at=now(),
                )
            )

    async def _react(
        self, conn: Conn, row: Any, kind: NMessage, msg: dict[str, Any], caller: Caller
    ) -> None:
        """What we do on our own after a message: the automatic half of the protocol."""
        if row.role == Role.PROVIDER:
            if kind is NMessage.REQUEST:
                await self._decide(conn, row, msg["offer"], caller)
            elif kind is NMessage.ACCEPTED:
                await self._decide(conn, row, None, caller)
            elif kind is NMessage.VERIFICATION:
                if self.manual(row, FINALIZE):
                    await self.hold(conn, row, FINALIZE)
                    return
                hold = self.dsp.finalize_hold
                if hold is not None and await hold(conn, row):
                    return  # VERIFIED until the condition is met; finalize() is called then
                await self.finalize(conn, row)
        elif kind is NMessage.AGREEMENT:
            if self.manual(row, VERIFY):
                await self.hold(conn, row, VERIFY)
                return
            await self._verify(conn, row)
        elif kind is NMessage.OFFER:
            await self._offered(conn, row)

    async def get(self, request: web.Request) -> web.Response:
        """GET <base>/negotiations/{pid} (either role)."""
        dsp = self.dsp
        caller = await dsp.caller(request, AREA)
        async with dsp.ctx.db.connect() as conn:
            row = (
                await conn.execute(
                    process.row_by(negotiations.c.pid), {"k": request.match_info["pid"]}
                )
            ).first()
        if row is None or row.counterparty_did != caller.did:
            raise _err(404, Code.NOT_FOUND, "no such negotiation", **path_pids(request))
        return web.json_response(ack(row))

    # ------------------------------------------------------------ outbox outcomes

    async def on_outcome(
        self,
        conn: Conn,
        message: dict[str, Any],
        pid: str,
        ok: bool,
        answer: Any,
        status: int | None,
    ) -> None:
        initial = message["@type"] in ("ContractRequestMessage", "ContractOfferMessage")
        if ok and not initial:
            return  # an acknowledged message changes nothing more: we moved when we queued it
        row = await lock(conn, pid)
        if row is None:
            return
        if ok:
            if isinstance(answer, dict):
                if message["@type"] == "ContractRequestMessage" and not row.provider_pid:
                    ppid = answer.get("providerPid")
                    if is_pid(ppid):
                        await set_fields(conn, pid, provider_pid=ppid)
                if message["@type"] == "ContractOfferMessage" and not row.consumer_pid:
                    cpid = answer.get("consumerPid")
                    if is_pid(cpid):
                        await set_fields(conn, pid, consumer_pid=cpid)
            return
        if message["@type"] == "ContractNegotiationTerminationMessage":
            return  # the protocol lets the sender ignore an error to its termination
        reason = f"the peer did not accept our {message['@type']} ({status or 'unreachable'})"
        await set_fields(conn, pid, state=NState.TERMINATED.value, error=reason)
        if status is not None and row.provider_pid and row.consumer_pid:
            # States now differ, so the protocol requires a termination.
            msg = m.negotiation_termination(
                row.provider_pid, row.consumer_pid, Code.MISMATCH.value, reason
            )
            await send_to_peer(conn, KIND, row, msg, self.peer_url(row, "termination"))


def _pids(msg: dict[str, Any]) -> dict[str, str | None]:
    return {"provider_pid": msg.get("providerPid"), "consumer_pid": msg.get("consumerPid")}
