"""Transfer processes, both roles: DSP endpoints, the provider's automatic start (PULL access
token or PUSH provisioning), and the operator's actions, driven by
:mod:`connector.dsp.transfer_states`.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import insert, select

from connector.dsp import messages as m
from connector.dsp import process
from connector.dsp.callbacks import is_pid, join, segment
from connector.dsp.catalog import (
    DPOP,
    FORMAT_HTTP_PULL,
    FORMAT_PULL,
    FORMATS,
    PULL_FORMATS,
    PUSH_FORMATS,
    SOURCE_FORMATS,
    new_id,
    offer_token_binding,
)
from connector.dsp.edr import expires_at
from connector.dsp.errors import Area, Code, DspError
from connector.dsp.http_source import endpoint as source_endpoint
from connector.dsp.negotiation_states import NState, Role
from connector.dsp.outbox import PENDING, send_to_peer
from connector.dsp.pending import START, NotPending, is_manual, pending_view
from connector.dsp.process import is_retry, note_applied, remember, seen
from connector.dsp.push import PushRefused, PushTransfer
from connector.dsp.runtime import Dsp, after_commit, digest, now, path_pids, serialize_on
from connector.dsp.tables import agreements, datasets, negotiations, outbox, transfers
from connector.dsp.transfer_states import IllegalTransition, TMessage, TState, next_state
from connector.storage.inline import Conn

KIND = "transfer"
AREA = Area.TRANSFER
NGSI_LD_ENDPOINT_TYPE = "https://uri.etsi.org/ngsi-ld/v1"
_JKT = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest, unpadded
#: the generic HTTP data plane's endpoint type (EDC's HttpData)
HTTP_ENDPOINT_TYPE = "https://w3id.org/idsa/v4.1/HTTP"


def ack(row: Any, state: TState | None = None) -> dict[str, Any]:
    return m.transfer_process(
        row.provider_pid or "", row.consumer_pid or "", (state.value if state else row.state)
    )


def _err(status: int, code: Code, reason: str, row: Any = None, **pids: str | None) -> DspError:
    return process.error(AREA, status, code, reason, row, **pids)


async def lock(conn: Conn, pid: str) -> Any:
    return await process.lock(conn, transfers, pid)


async def set_fields(conn: Conn, pid: str, **values: Any) -> Any:
    return await process.set_fields(conn, transfers, KIND, pid, **values)


class Transfers:
    def __init__(self, dsp: Dsp) -> None:
        self.dsp = dsp

    # ------------------------------------------------------------------ sending

    def peer_url(self, row: Any, suffix: str) -> str:
        other = row.consumer_pid if row.role == Role.PROVIDER else row.provider_pid
        return join(row.counterparty_address, "transfers", segment(other), suffix)

    async def send(
        self,
        conn: Conn,
        row: Any,
        kind: TMessage,
        message: dict[str, Any],
        url: str,
        **fields: Any,
    ) -> TState:
        new = next_state(TState(row.state) if row.state else None, kind, Role(row.role))
        if row.pending_decision is not None:  # the decision waited for is taken by this
            fields.setdefault("pending_decision", None)
        await set_fields(conn, row.pid, state=new.value, **fields)
        await send_to_peer(conn, KIND, row, message, url)
        return new

    async def address(self, conn: Conn, row: Any) -> dict[str, Any]:
        """The data address of a pull transfer: NGSI-LD's base, or for HttpData-PULL the URL a
        plain GET pulls the dataset from (its entity types as the query; the PEP narrows the
        answer to the agreement as for any NGSI-LD request)."""
        if row.format != FORMAT_HTTP_PULL:
            return self.pull_address(row)
        found = (
            await conn.execute(
                select(datasets.c.id, datasets.c.entity_types, datasets.c.source)
                .select_from(agreements.join(datasets, datasets.c.id == agreements.c.target))
                .where(agreements.c.id == row.agreement_id)
            )
        ).first()
        public = self.dsp.ctx.settings.public_url
        if found is not None and found.source:  # a plain HTTP source: our source endpoint
            return self.pull_address(row, HTTP_ENDPOINT_TYPE, source_endpoint(public, found.id))
        types = json.loads(found.entity_types) if found is not None else []
        query = "?" + urlencode({"type": ",".join(types)}) if types else ""
        endpoint = public + "/ngsi-ld/v1/entities" + query
        return self.pull_address(row, HTTP_ENDPOINT_TYPE, endpoint)

    def pull_address(self, row: Any, endpoint_type: str = "", endpoint: str = "") -> dict[str, Any]:
        """The NGSI-LD endpoint with a fresh access token bound to this transfer."""
        token, ttl = self.dsp.tokens.issue(
            agreement_id=row.agreement_id,
            transfer_id=row.pid,
            consumer_did=row.counterparty_did,
            jkt=row.dpop_jkt,
        )
        return m.data_address(
            endpoint_type or NGSI_LD_ENDPOINT_TYPE,
            endpoint or self.dsp.ctx.settings.public_url + "/ngsi-ld/v1",
            {
                "authorization": token,
                "authType": "bearer" if row.dpop_jkt is None else DPOP,
                "expiresIn": str(ttl),
                "refreshEndpoint": f"{self.dsp.base_url}/transfers/{row.pid}/token",
            },
        )

    async def start(self, conn: Conn, row: Any) -> TState:
        """Provider: start (or resume) a transfer."""
        address: dict[str, Any] | None = None
        if row.format in PULL_FORMATS:
            address = await self.address(conn, row)
        else:
            try:
                await self.dsp.push.started(conn, await self._push_view(conn, row))
            except PushRefused as exc:
                raise _err(400, Code.PUSH_REFUSED, exc.reason, row) from None
        msg = m.transfer_start(row.provider_pid, row.consumer_pid, address)
        return await self.send(conn, row, TMessage.START, msg, self.peer_url(row, "start"))

    async def _resend_start(self, conn: Conn, row: Any) -> None:
        """Provider: a retried TransferRequestMessage of a STARTED transfer. The consumer may
        have missed our start (its retry says it has no answer it trusts), so we send it again:
        the very message we sent last, word for word, which the consumer acknowledges without a
        second transition if it had it, or applies if it had not. One still waiting in the
        outbox is on its way already; one pruned by retention is rebuilt (a PULL gets a fresh
        token). No state changes here."""
        last = (
            await conn.execute(
                select(outbox.c.body, outbox.c.status, outbox.c.url)
                .where(
                    outbox.c.process_pid == row.pid,
                    outbox.c.message_type == TMessage.START.value,
                )
                .order_by(outbox.c.id.desc())
                .limit(1)
            )
        ).first()
        if last is not None and last.status == PENDING:
            return
        if last is not None:
            message, url = json.loads(last.body), last.url
        else:
            address = await self.address(conn, row) if row.format in PULL_FORMATS else None
            message = m.transfer_start(row.provider_pid, row.consumer_pid, address)
            url = self.peer_url(row, "start")
        await send_to_peer(conn, KIND, row, message, url)

    async def _push_view(self, conn: Conn, row: Any) -> PushTransfer:
        target = (
            await conn.execute(
                select(agreements.c.target).where(agreements.c.id == row.agreement_id)
            )
        ).scalar_one()
        return PushTransfer(
            row.pid,
            row.agreement_id,
            row.counterparty_did,
            target,
            json.loads(row.data_address or "{}"),
        )

    async def act(self, conn: Conn, row: Any, kind: TMessage, reason: str | None = None) -> TState:
        """An operator's action on a transfer (suspend, resume, complete, terminate)."""
        if kind is TMessage.START and row.role == Role.PROVIDER:
            return await self.start(conn, row)
        if kind is TMessage.START:
            msg = m.transfer_start(row.provider_pid, row.consumer_pid)
            return await self.send(conn, row, kind, msg, self.peer_url(row, "start"))
        suffix = {
            TMessage.SUSPENSION: "suspension",
            TMessage.COMPLETION: "completion",
            TMessage.TERMINATION: "termination",
        }[kind]
        code = None if kind is TMessage.COMPLETION else "OperatorRequest"
        msg = m.transfer_coded(kind.value, row.provider_pid, row.consumer_pid, code, reason)
        new = await self.send(conn, row, kind, msg, self.peer_url(row, suffix))
        if row.role == Role.PROVIDER and row.format in PUSH_FORMATS:
            await self.dsp.push.stopped(conn, row.pid, new.value)
        return new

    # ------------------------------------------------------------------ operator decisions

    async def hold(self, conn: Conn, row: Any, decision: str) -> Any:
        """Leave the transfer in its state until the operator (or the timeout) decides."""
        row = await set_fields(conn, row.pid, pending_decision=decision, pending_since=now())
        view = pending_view(KIND, row)
        after_commit(conn, lambda: self.dsp.board.waiting(view))
        return row

    async def take(self, conn: Conn, row: Any, approve: bool, reason: str | None = None) -> None:
        """The operator's (or the timeout's) answer to the decision ``row`` waits for."""
        if row.pending_decision != START:
            raise NotPending(f"transfer {row.pid} waits for no decision")
        if approve:
            await self.start(conn, row)
        else:
            await self.act(
                conn, row, TMessage.TERMINATION, reason or "startTransfer: declined by the operator"
            )

    # ------------------------------------------------------------------ provider

    async def request(self, request: web.Request) -> web.Response:
        """Provider: POST <base>/transfers/request."""
        dsp = self.dsp
        caller = await dsp.caller(request, AREA)
        msg = await dsp.message(request, "TransferRequestMessage", AREA)
        cpid = msg["consumerPid"]
        callback = await dsp.accept_callback(
            msg["callbackAddress"], AREA, caller, consumer_pid=cpid
        )
        fmt = msg["format"]
        if fmt not in FORMATS:
            raise _err(
                400, Code.UNSUPPORTED_FORMAT, f"format must be one of {FORMATS}", consumer_pid=cpid
            )
        if fmt in PUSH_FORMATS and not msg.get("dataAddress"):
            raise _err(
                400,
                Code.MALFORMED,
                "a push transfer needs the consumer's dataAddress",
                consumer_pid=cpid,
            )
        if fmt in PUSH_FORMATS:
            # the provider's subscription will call this endpoint: the same rule as callbacks
            await dsp.accept_callback(
                msg["dataAddress"].get("endpoint"),
                AREA,
                caller,
                notifications=True,
                consumer_pid=cpid,
            )
        d = digest("transfer-request", msg)
        async with dsp.transaction() as conn:
            await serialize_on(conn, "transfer-request", caller.did, cpid)
            existing = (
                await conn.execute(
                    select(transfers).where(
                        transfers.c.role == Role.PROVIDER.value,
                        transfers.c.consumer_pid == cpid,
                        transfers.c.counterparty_did == caller.did,
                    )
                )
            ).first()
            if existing is not None:
                if await seen(conn, existing.pid, d):
                    if existing.state == TState.STARTED.value:
                        await self._resend_start(conn, existing)
                    return web.json_response(ack(existing, TState.REQUESTED), status=201)
                raise _err(400, Code.MISMATCH, "this consumerPid is already in use", existing)
            agreement = (
                await conn.execute(process.row_by(agreements.c.id), {"k": msg["agreementId"]})
            ).first()
            if (
                agreement is None
                or agreement.provider_did != dsp.did
                or agreement.consumer_did != caller.did
            ):
                raise _err(
                    400,
                    Code.UNKNOWN_AGREEMENT,
                    "no agreement with you under this id",
                    consumer_pid=cpid,
                )
            state_row = (
                await conn.execute(
                    select(
                        negotiations.c.state, negotiations.c.offer, negotiations.c.decisions
                    ).where(negotiations.c.pid == agreement.negotiation_pid)
                )
            ).first()
            if state_row is None or state_row.state != NState.FINALIZED.value:
                raise _err(
                    400,
                    Code.UNKNOWN_AGREEMENT,
                    "the agreement's negotiation is not FINALIZED",
                    consumer_pid=cpid,
                )
            source = (
                await conn.execute(
                    select(datasets.c.source).where(datasets.c.id == agreement.target)
                )
            ).scalar()
            if source and fmt not in SOURCE_FORMATS:
                raise _err(
                    400,
                    Code.UNSUPPORTED_FORMAT,
                    f"this dataset is served from an HTTP source: format must be one of"
                    f" {SOURCE_FORMATS}",
                    consumer_pid=cpid,
                )
            jkt = await self._bound_key(conn, fmt, state_row.offer, msg, cpid)
            pid = new_id()
            state = next_state(None, TMessage.REQUEST, Role.CONSUMER)
            await conn.execute(
                insert(transfers).values(
                    pid=pid,
                    role=Role.PROVIDER.value,
                    provider_pid=pid,
                    consumer_pid=cpid,
                    state=state.value,
                    agreement_id=agreement.id,
                    format=fmt,
                    counterparty_did=caller.did,
                    counterparty_address=callback,
                    data_address=json.dumps(msg["dataAddress"]) if fmt in PUSH_FORMATS else None,
                    dpop_jkt=jkt,
                    decisions=state_row.decisions,
                    created_at=now(),
                    updated_at=now(),
                )
            )
            await remember(conn, pid, d)
            row = await lock(conn, pid)
            if is_manual(dsp.decision_defaults, row.decisions, START):
                await self.hold(conn, row, START)
            else:
                await self.start(conn, row)
        return web.json_response(ack(row, state), status=201)

    @staticmethod
    async def _bound_key(
        conn: Conn, fmt: str, offer: str | None, msg: dict[str, Any], cpid: str
    ) -> str | None:
        """The consumer key's thumbprint a PULL under a DPoP offer binds its tokens to; None
        for bearer tokens. A DPoP offer without a well-formed thumbprint is refused."""
        if fmt != FORMAT_PULL or offer is None:
            return None
        offer_id = json.loads(offer).get("@id")
        if not isinstance(offer_id, str) or await offer_token_binding(conn, offer_id) != DPOP:
            return None
        jkt = msg.get(m.DPOP_JKT)
        if not isinstance(jkt, str) or not _JKT.fullmatch(jkt):
            raise _err(
                400,
                Code.MALFORMED,
                "this offer binds pull tokens to the consumer's key (DPoP, RFC 9449): send the "
                f"key's RFC 7638 SHA-256 thumbprint (base64url) as {m.DPOP_JKT}",
                consumer_pid=cpid,
            )
        return jkt

    # ------------------------------------------------------------------ shared receive

    async def on_process_message(
        self, request: web.Request, message_type: str, path_kind: str
    ) -> web.Response:
        dsp = self.dsp
        pid = request.match_info["pid"]
        caller = await dsp.caller(request, AREA)
        msg = await dsp.message(request, message_type, AREA)
        kind = TMessage(message_type)
        async with dsp.transaction() as conn:
            row = await lock(conn, pid)
            if row is None or row.counterparty_did != caller.did:
                raise _err(
                    404,
                    Code.NOT_FOUND,
                    "no such transfer process",
                    provider_pid=msg.get("providerPid"),
                    consumer_pid=msg.get("consumerPid"),
                )
            provider = row.role == Role.PROVIDER
            mine_key, theirs_key = (
                ("providerPid", "consumerPid") if provider else ("consumerPid", "providerPid")
            )
            theirs = row.consumer_pid if provider else row.provider_pid
            if msg.get(mine_key) != row.pid or (theirs and msg.get(theirs_key) != theirs):
                raise _err(400, Code.MISMATCH, "providerPid/consumerPid do not match", row)
            sender = Role.CONSUMER if provider else Role.PROVIDER
            try:
                new: TState | None = next_state(TState(row.state), kind, sender)
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
                fields["provider_pid" if not provider else "consumer_pid"] = msg[theirs_key]
            if kind is TMessage.START and not provider and msg.get("dataAddress"):
                fields["data_address"] = json.dumps(msg["dataAddress"])
                fields["edr_expires_at"] = expires_at(msg["dataAddress"], now())
            if kind in (TMessage.TERMINATION, TMessage.SUSPENSION) and msg.get("reason"):
                fields["error"] = "; ".join(str(r) for r in msg["reason"])
            row = await set_fields(conn, pid, state=new.value, **fields)
            await note_applied(conn, pid, path_kind, msg, new.value)
            if provider and row.format in PUSH_FORMATS:
                if new is TState.STARTED:
                    try:
                        await dsp.push.started(conn, await self._push_view(conn, row))
                    except PushRefused as exc:
                        raise _err(400, Code.PUSH_REFUSED, exc.reason, row) from None
                else:
                    await dsp.push.stopped(conn, row.pid, new.value)
        return web.json_response(ack(row, new))

    async def get(self, request: web.Request) -> web.Response:
        dsp = self.dsp
        caller = await dsp.caller(request, AREA)
        async with dsp.ctx.db.connect() as conn:
            row = (
                await conn.execute(
                    process.row_by(transfers.c.pid), {"k": request.match_info["pid"]}
                )
            ).first()
        if row is None or row.counterparty_did != caller.did:
            raise _err(404, Code.NOT_FOUND, "no such transfer process", **path_pids(request))
        return web.json_response(ack(row))

    async def refresh_token(self, request: web.Request) -> web.Response:
        """Provider extension: a fresh PULL data address for a STARTED transfer."""
        dsp = self.dsp
        caller = await dsp.caller(request, AREA)
        async with dsp.ctx.db.connect() as conn:
            row = (
                await conn.execute(
                    process.row_by(transfers.c.pid), {"k": request.match_info["pid"]}
                )
            ).first()
        if (
            row is None
            or row.counterparty_did != caller.did
            or row.role != Role.PROVIDER
            or row.format not in PULL_FORMATS
        ):
            raise _err(404, Code.NOT_FOUND, "no such pull transfer process", **path_pids(request))
        if row.state != TState.STARTED.value:
            raise _err(400, Code.ILLEGAL_TRANSITION, f"the transfer is {row.state}", row)
        async with dsp.ctx.db.connect() as conn:
            address = await self.address(conn, row)
        return web.json_response(address)

    # ------------------------------------------------------------------ outbox outcomes

    async def on_outcome(
        self,
        conn: Conn,
        message: dict[str, Any],
        pid: str,
        ok: bool,
        answer: Any,
        status: int | None,
    ) -> None:
        if ok and message["@type"] != "TransferRequestMessage":
            return  # an acknowledged message changes nothing more: we moved when we queued it
        row = await lock(conn, pid)
        if row is None:
            return
        if ok:
            if message["@type"] == "TransferRequestMessage" and not row.provider_pid:
                ppid = answer.get("providerPid") if isinstance(answer, dict) else None
                if is_pid(ppid):
                    await set_fields(conn, pid, provider_pid=ppid)
            return
        if message["@type"] == "TransferTerminationMessage":
            return
        reason = f"the peer did not accept our {message['@type']} ({status or 'unreachable'})"
        await set_fields(conn, pid, state=TState.TERMINATED.value, error=reason)
        if status is not None and row.provider_pid and row.consumer_pid:
            msg = m.transfer_coded(
                "TransferTerminationMessage",
                row.provider_pid,
                row.consumer_pid,
                Code.MISMATCH.value,
                reason,
            )
            await send_to_peer(conn, KIND, row, msg, self.peer_url(row, "termination"))
