"""The persisted outbox: every DSP message we send is stored first, then delivered.

A message is inserted in the same transaction that moves the local process to its new state,
so a crash can never leave "state changed but message lost" (or the reverse). A background
worker leases due messages, sends them with a fresh bearer token, and retries failures with
exponential back-off. Leases make several replicas safe on one database: on PostgreSQL the
candidates are taken with ``SELECT … FOR UPDATE SKIP LOCKED``; on SQLite (one writer at a time)
a single ``UPDATE … WHERE id IN (…)`` claims them atomically. An expired lease (a replica that
died mid-send) makes the message due again, so a restart resumes where the process stopped.

Messages of one process are delivered strictly in order: only the oldest pending message of a
process can be leased.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    bindparam,
    case,
    exists,
    insert,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.auth import TokenIssuer
from connector.dsp.tables import outbox
from connector.dsp.validation import validate
from connector.http import safe_json
from connector.outbound import OutboundError, PeerHttp
from connector.storage.inline import Conn

PENDING, SENT, FAILED = "pending", "sent", "failed"
#: the largest answer of a peer to one of our messages that we read
ANSWER_MAX_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Delivery:
    """What happened to one message: the peer's status and JSON answer, or a transport error."""

    row_id: int
    process_pid: str
    kind: str
    message: dict[str, Any]
    status: int | None
    answer: Any
    error: str | None


#: Called in the transaction that records a final outcome (delivered or given up).
OnOutcome = Callable[[Conn, Delivery, bool], Awaitable[None]]
#: Opens a write transaction (the component's, which serialises writers on SQLite).
Transaction = Callable[[], AbstractAsyncContextManager[Conn]]


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 0.25
    cap_s: float = 30.0
    max_attempts: int = 8
    lease_s: float = 30.0

    def delay(self, attempts: int) -> float:
        raw = min(self.cap_s, self.base_s * (2 ** max(0, attempts - 1)))
        return raw * (0.5 + random.random() / 2)


#: ``conn.info`` keys: who may pre-lease new messages, and which ones it leased.
LEASE_OWNER = "agora.dsp.outbox_owner"
SEND_NOW = "agora.dsp.send_now"
NEEDS_PASS = "agora.dsp.needs_pass"
PRE_LEASE_S = 30.0


@dataclass(frozen=True)
class Queued:
    """A row we just inserted and leased: what delivery needs, without reading it back."""

    id: int
    process_pid: str
    kind: str
    message_type: str
    url: str
    audience_did: str
    body: str
    attempts: int = 0


async def send_to_peer(conn: Conn, kind: str, row: Any, message: dict[str, Any], url: str) -> None:
    """:func:`enqueue` ``message`` for the other party of process ``row`` (its pid, its DID)."""
    await enqueue(
        conn,
        process_pid=row.pid,
        kind=kind,
        message=message,
        url=url,
        audience_did=row.counterparty_did,
    )


async def enqueue(
    conn: Conn,
    *,
    process_pid: str,
    kind: str,
    message: dict[str, Any],
    url: str,
    audience_did: str,
) -> None:
    """Store ``message`` for delivery; it must validate against its DSP schema.

    When the transaction belongs to a worker (``conn.info[LEASE_OWNER]``) and no earlier
    message of the process is pending, the new row is leased to that worker at insert and
    listed in ``conn.info[SEND_NOW]``: it is sent right after commit, without waiting for a
    worker pass. The lease keeps every other worker (replica) away; if we crash before sending,
    it expires like any other lease. The check for an earlier message is part of the INSERT
    (one statement), and the row's content goes to the sender as is (no read-back).
    """
    validate(str(message["@type"]), message)
    now = time.time()
    owner = conn.info.get(LEASE_OWNER)
    body = json.dumps(message)
    values: dict[str, Any] = {
        "process_pid": process_pid,
        "kind": kind,
        "message_type": str(message["@type"]),
        "url": url,
        "audience_did": audience_did,
        "body": body,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
    if owner is None:
        await conn.execute(insert(outbox).values(**values))
        conn.info.setdefault(NEEDS_PASS, []).append(True)  # left for a worker pass
        return
    params = {f"v_{k}": v for k, v in values.items()}
    params.update(v_owner=owner, v_until=now + PRE_LEASE_S)
    row = (await conn.execute(_ENQUEUE_LEASED, params)).one()
    if row.lease_owner is not None:
        queued = Queued(row.id, process_pid, kind, values["message_type"], url, audience_did, body)
        conn.info.setdefault(SEND_NOW, []).append(queued)
    else:
        conn.info.setdefault(NEEDS_PASS, []).append(True)  # behind an earlier message


_COLUMNS = (
    "process_pid",
    "kind",
    "message_type",
    "url",
    "audience_did",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)
_EARLIER_OF_PROCESS = exists().where(
    outbox.c.process_pid == bindparam("v_process_pid"), outbox.c.status == PENDING
)
#: enqueue's INSERT, built once: leased to the sending worker unless an earlier message of the
#: process is still pending (then it waits for a worker pass, behind that one)
_ENQUEUE_LEASED = (
    insert(outbox)
    .values(
        {
            **{name: bindparam(f"v_{name}") for name in _COLUMNS},
            "lease_owner": case(
                (_EARLIER_OF_PROCESS, null()), else_=bindparam("v_owner", type_=String())
            ),
            "lease_until": case(
                (_EARLIER_OF_PROCESS, null()), else_=bindparam("v_until", type_=Float())
            ),
        }
    )
    .returning(outbox.c.id, outbox.c.lease_owner)
)
_MARK_DONE = (
    update(outbox)
    .where(outbox.c.id == bindparam("w_id"))
    .values(
        status=bindparam("v_status"),
        attempts=bindparam("v_attempts"),
        lease_until=None,
        last_error=bindparam("v_error"),
    )
)
_MARK_RETRY = (
    update(outbox)
    .where(outbox.c.id == bindparam("w_id"))
    .values(
        attempts=bindparam("v_attempts"),
        next_attempt_at=bindparam("v_next"),
        lease_until=None,
        last_error=bindparam("v_error"),
    )
)


async def release_leases(engine: AsyncEngine) -> None:
    """Forget leases of a previous run (a crash mid-send): those messages are due again now."""
    async with engine.begin() as conn:
        await conn.execute(
            update(outbox).where(outbox.c.status == PENDING).values(lease_until=None)
        )


_EARLIER = outbox.alias("earlier")
#: Only the oldest pending message of a process may go: delivery in order, per process.
_NO_EARLIER_PENDING = ~exists().where(
    _EARLIER.c.process_pid == outbox.c.process_pid,
    _EARLIER.c.status == PENDING,
    _EARLIER.c.id < outbox.c.id,
)


def _due(now: Any) -> Any:
    """Messages that may go at ``now`` (a value or a bound parameter)."""
    return and_(
        outbox.c.status == PENDING,
        outbox.c.next_attempt_at <= now,
        or_(outbox.c.lease_until.is_(None), outbox.c.lease_until < now),
        _NO_EARLIER_PENDING,
    )


_ANY_DUE = select(outbox.c.id).where(_due(bindparam("now", type_=Float()))).limit(1)


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 425, 429)


class OutboxWorker:
    def __init__(
        self,
        engine: AsyncEngine,
        issuer: TokenIssuer,
        http: Callable[[], PeerHttp],
        on_outcome: OnOutcome,
        log: logging.Logger,
        *,
        policy: RetryPolicy | None = None,
        batch: int = 32,
        poll_s: float = 0.5,
        transaction: Transaction | None = None,
        connect: Transaction | None = None,
        url_allowed: Callable[[str], bool] | None = None,
    ) -> None:
        self.engine = engine
        self.transaction: Transaction = transaction or engine.begin
        self.connect: Transaction = connect or engine.connect
        self.url_allowed = url_allowed or (lambda url: True)
        self.issuer = issuer
        self.http = http
        self.on_outcome = on_outcome
        self.log = log
        self.policy = policy or RetryPolicy()
        self.batch = batch
        self.poll_s = poll_s
        self.owner = uuid.uuid4().hex
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            # Clear before looking, so a wake-up during the pass is never lost.
            self._wake.clear()
            try:
                sent = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not kill delivery for good
                self.log.exception("dsp outbox pass failed")
                sent = 0
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass

    def send_now(self, rows: list[Queued], spawn: Callable[[Any], Any]) -> None:
        """Deliver rows this worker leased at insert (see :func:`enqueue`), right away."""
        if rows:
            spawn(self._send_leased(list(rows)))

    async def _send_leased(self, rows: list[Queued]) -> None:
        try:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        except asyncio.CancelledError:
            raise
        except Exception:  # the rows stay leased; a worker pass retries them after the lease
            self.log.warning("dsp immediate send failed; the outbox will retry", exc_info=True)

    async def run_once(self) -> int:
        rows = await self._lease()
        if rows:
            await asyncio.gather(*(self._deliver(row) for row in rows))
        return len(rows)

    async def _any_due(self, now: float) -> bool:
        """A read-only look first, so an idle pass never opens a write transaction."""
        async with self.connect() as conn:
            found = await conn.execute(_ANY_DUE, {"now": now})
            return found.first() is not None

    async def _lease(self) -> list[Any]:
        now = time.time()
        if not await self._any_due(now):
            return []
        until = now + self.policy.lease_s
        batch_owner = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        async with self.transaction() as conn:
            if self.engine.dialect.name == "postgresql":
                ids = (
                    (
                        await conn.execute(
                            select(outbox.c.id)
                            .where(_due(now))
                            .order_by(outbox.c.id)
                            .limit(self.batch)
                            .with_for_update(skip_locked=True, of=outbox)
                        )
                    )
                    .scalars()
                    .all()
                )
                if not ids:
                    return []
                await conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(ids))
                    .values(lease_owner=batch_owner, lease_until=until)
                )
            else:
                candidates = (
                    select(outbox.c.id).where(_due(now)).order_by(outbox.c.id).limit(self.batch)
                )
                result = await conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(candidates.scalar_subquery()))
                    .values(lease_owner=batch_owner, lease_until=until)
                    .execution_options(synchronize_session=False)
                )
                if not result.rowcount:
                    return []
            rows = (
                await conn.execute(
                    select(outbox).where(outbox.c.lease_owner == batch_owner).order_by(outbox.c.id)
                )
            ).all()
        return list(rows)

    async def _deliver(self, row: Any) -> None:
        message = json.loads(row.body)
        status: int | None = None
        answer: Any = None
        error: str | None = None
        if not self.url_allowed(row.url):
            # The allow-list may have shrunk since the message was queued: never send there.
            refused = Delivery(row.id, row.process_pid, row.kind, message, 403, None, "refused")
            await self._record(row, refused)
            return
        try:
            token = await self.issuer.token_for(row.audience_did)
            # the guarded client: resolved addresses checked at connect, a 3xx is a failure
            got = await self.http().request(
                "POST",
                row.url,
                json_body=message,
                headers={"Authorization": f"Bearer {token}"},
                seconds=10.0,
                max_bytes=ANSWER_MAX_BYTES,
            )
            status = got.status
            try:
                answer = safe_json.loads(got.body) if got.body else None
            except ValueError:
                answer = None
        except OutboundError as exc:
            error = exc.detail[:500]
            if exc.refused:  # e.g. a redirect: trying again cannot help
                status, error = 403, f"refused: {exc.detail}"[:500]
        delivery = Delivery(row.id, row.process_pid, row.kind, message, status, answer, error)
        await self._record(row, delivery)

    async def _record(self, row: Any, delivery: Delivery) -> None:
        status = delivery.status
        attempts = row.attempts + 1
        ok = status is not None and 200 <= status < 300
        final_failure = (status is not None and not ok and not _retryable(status)) or (
            not ok and attempts >= self.policy.max_attempts
        )
        error = delivery.error or (None if ok else f"HTTP {status}: {str(delivery.answer)[:300]}")
        async with self.transaction() as conn:
            if ok or final_failure:
                status_ = SENT if ok else FAILED
                await conn.execute(
                    _MARK_DONE,
                    {"w_id": row.id, "v_status": status_, "v_attempts": attempts, "v_error": error},
                )
                await self.on_outcome(conn, delivery, ok)
            else:
                await conn.execute(
                    _MARK_RETRY,
                    {
                        "w_id": row.id,
                        "v_attempts": attempts,
                        "v_next": time.time() + self.policy.delay(attempts),
                        "v_error": error,
                    },
                )
        if not ok:
            self.log.warning(
                "dsp message %s to %s failed (attempt %d): %s",
                row.message_type,
                row.url,
                attempts,
                error,
            )
