"""What the DSP handlers share: settings, storage, identity, the outbox and the seams."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import rfc8785
from aiohttp import web
from sqlalchemy import text

from connector.dsp.auth import Caller, CallerAuthenticator, LocalIdentity, TokenIssuer
from connector.dsp.callbacks import CallbackRefused, check_callback
from connector.dsp.decisions import OfferDecider
from connector.dsp.errors import Area, Code, DspError
from connector.dsp.outbox import LEASE_OWNER, NEEDS_PASS, SEND_NOW, OutboxWorker, Queued
from connector.dsp.pending import DecisionBoard
from connector.dsp.push import PushProvisioner
from connector.dsp.services import NegotiationService, TransferService
from connector.dsp.settings import DecisionSettings
from connector.dsp.validation import SchemaViolation, validate
from connector.http.context import ConnectorContext
from connector.storage.inline import Conn
from identity.resolver import DidResolver

if TYPE_CHECKING:
    from connector.dsp.access_tokens import AccessTokens

BASE_PATH = "/dsp"
#: Process, agreement and dataset ids we store are at most this long (a longer one is a 400).
MAX_ID = 200
ID_FIELDS = ("providerPid", "consumerPid", "agreementId")


#: The reason of a 404 for an unknown process: the same whether it does not exist or the
#: caller may not see it (an unauthenticated caller included).
UNKNOWN = {
    Area.CATALOG: "no such dataset in this catalog",
    Area.NEGOTIATION: "no such negotiation",
    Area.TRANSFER: "no such transfer process",
}

CHANGES = "agora.dsp.changes"
AFTER_COMMIT = "agora.dsp.after_commit"


@dataclass(frozen=True)
class StateChange:
    kind: str  # "negotiation" or "transfer"
    pid: str
    state: str


def record_change(conn: Conn, kind: str, pid: str, state: str) -> None:
    """Note a state change for the listeners (fired when the transaction commits)."""
    changes = conn.info.get(CHANGES)
    if changes is not None:
        changes.append(StateChange(kind, pid, state))


def after_commit(conn: Conn, action: Callable[[], None]) -> None:
    """Run ``action`` once the DSP transaction of ``conn`` has committed (in-memory effects of
    a change, e.g. a subscription cache, must not run ahead of a possible rollback). Outside a
    DSP transaction it runs at once."""
    actions = conn.info.get(AFTER_COMMIT)
    if actions is None:
        action()
    else:
        actions.append(action)


async def serialize_on(conn: Conn, *parts: str) -> None:
    """On PostgreSQL, hold a transaction-scoped advisory lock on ``parts``: two replicas that
    receive the same initial message at once then create one process, not two. (On SQLite our
    writers are already serialized by the component's lock.)"""
    if conn.dialect.name != "postgresql":
        return
    key = int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big") >> 1
    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def now() -> datetime:
    return datetime.now(UTC)


def digest(kind: str, message: Any) -> str:
    """Identity of a message for idempotency: what it is and its canonical JSON."""
    return hashlib.sha256(kind.encode() + b"\0" + rfc8785.dumps(message)).hexdigest()


@dataclass
class Dsp:
    ctx: ConnectorContext
    identity: LocalIdentity
    authenticator: CallerAuthenticator
    issuer: TokenIssuer
    decider: OfferDecider
    push: PushProvisioner
    worker: OutboxWorker | None = None
    #: Resolves peers' DID documents (e.g. to verify a provider's agreement signature).
    resolver: DidResolver | None = None
    negotiations: NegotiationService = field(init=False)
    transfers: TransferService = field(init=False)
    tokens: AccessTokens = field(init=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: Called after commit with every state change (in-process observers: demo, benchmarks).
    listeners: list[Callable[[StateChange], None]] = field(default_factory=list)
    #: Who is told that an operator decision is waiting (event streams, webhook).
    board: DecisionBoard = field(default_factory=DecisionBoard)
    #: ``[dsp.decisions]``: automatic or manual for each decision, and the timeout policy.
    decision_defaults: DecisionSettings = field(default_factory=DecisionSettings)
    #: The consumer's endpoint data references (``edr.EdrCache``; set by the component).
    edrs: object = None

    @property
    def did(self) -> str:
        return self.identity.did

    @property
    def base_url(self) -> str:
        """Our DSP base URL: the callbackAddress we give peers and the catalog's endpointURL."""
        return self.ctx.settings.public_url + BASE_PATH

    @property
    def allowed_hosts(self) -> list[str]:
        return self.ctx.settings.security.allowed_callback_hosts

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A write transaction (``ctx.db``: on a SQLite file it holds the write lock from its
        start, queued in the engine's write gate, so read-then-write transactions of one process
        cannot deadlock on the lock upgrade). State changes recorded in it are told to the
        listeners once it has committed."""
        changes: list[StateChange] = []
        send_now: list[Queued] = []
        needs_pass: list[bool] = []
        actions: list[Callable[[], None]] = []
        db = self.ctx.db
        sqlite_async = self.ctx.engine.dialect.name == "sqlite" and not db.inline
        lock = self._lock if sqlite_async else contextlib.nullcontext()
        async with lock, db.begin() as conn:
            # conn.info belongs to the pooled DBAPI connection: set for this transaction only
            self._prepare(conn, changes, send_now, needs_pass)
            conn.info[AFTER_COMMIT] = actions
            try:
                yield conn
            finally:
                for key in (CHANGES, LEASE_OWNER, SEND_NOW, NEEDS_PASS, AFTER_COMMIT):
                    conn.info.pop(key, None)
        for action in actions:
            action()
        if send_now and self.worker is not None:
            self.worker.send_now(send_now, self._spawn)
        if needs_pass:
            self.wake()
        for change in changes:
            for listener in self.listeners:
                listener(change)

    def _prepare(
        self,
        conn: Conn,
        changes: list[Any],
        send_now: list[Queued],
        needs_pass: list[bool],
    ) -> None:
        conn.info[CHANGES] = changes
        conn.info[NEEDS_PASS] = needs_pass
        if self.worker is not None:
            conn.info[LEASE_OWNER] = self.worker.owner
            conn.info[SEND_NOW] = send_now

    def _spawn(self, coro: Any) -> None:
        self.ctx.tasks.spawn(coro, name="dsp-send-now")

    def wake(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    def check_callback(self, address: object, area: Area, **pids: str | None) -> str:
        try:
            return check_callback(address, self.allowed_hosts)
        except CallbackRefused as exc:
            raise DspError(
                area,
                400,
                Code.CALLBACK_REFUSED,
                str(exc),
                provider_pid=pids.get("provider_pid"),
                consumer_pid=pids.get("consumer_pid"),
            ) from None

    async def caller(self, request: web.Request, area: Area) -> Caller:
        from connector.dsp.auth import AuthenticationFailed

        try:
            return await self.authenticator.authenticate(request)
        except AuthenticationFailed as exc:
            if "pid" in request.match_info:
                # the negotiation and transfer bindings: an unauthorized request to a process
                # endpoint is answered 404, so it does not learn whether the process exists
                pids = path_pids(request)
                raise DspError(
                    area,
                    404,
                    Code.NOT_FOUND,
                    UNKNOWN[area],
                    provider_pid=pids.get("provider_pid"),
                    consumer_pid=pids.get("consumer_pid"),
                ) from None
            raise DspError(
                area,
                401,
                Code.UNAUTHORIZED,
                exc.reason,
                headers={"WWW-Authenticate": 'Bearer realm="dsp"'},
            ) from None

    async def message(self, request: web.Request, message_type: str, area: Area) -> dict[str, Any]:
        """The request body as a schema-valid ``message_type``, or the area's DSP error (400)."""
        import json

        raw = await request.read()
        try:
            doc = json.loads(raw) if raw else None
        except (UnicodeDecodeError, ValueError):
            raise DspError(area, 400, Code.MALFORMED, "the body is not JSON") from None
        pids = _pids(doc)
        if doc is None:
            raise DspError(area, 400, Code.MALFORMED, "the body is empty; a DSP message expected")
        try:
            validate(message_type, doc)
        except SchemaViolation as exc:
            raise DspError(
                area,
                400,
                Code.SCHEMA,
                exc.reason,
                provider_pid=pids.get("provider_pid"),
                consumer_pid=pids.get("consumer_pid"),
            ) from None
        assert isinstance(doc, dict)
        for key in ID_FIELDS:
            value = doc.get(key)
            if isinstance(value, str) and len(value) > MAX_ID:
                raise DspError(area, 400, Code.SCHEMA, f"/{key}: longer than {MAX_ID} characters")
        for key in ("offer", "agreement"):
            inner = doc.get(key)
            if isinstance(inner, dict) and any(
                isinstance(inner.get(k), str) and len(inner[k]) > MAX_ID
                for k in ("@id", "target", "assigner", "assignee")
            ):
                raise DspError(area, 400, Code.SCHEMA, f"/{key}: an id is too long")
        return doc


#: Process paths whose ``{pid}`` is always the provider's (our id as provider) or the
#: consumer's; the others (events, termination, transfer messages) serve both roles.
_PROVIDER_PATHS = ("/request", "/agreement/verification", "/token")
_CONSUMER_PATHS = ("/offers", "/agreement")


def path_pids(request: web.Request) -> dict[str, str | None]:
    """The process id a path names, under the role the endpoint implies (an error message
    then names the process the request asked for; a GET is the provider's endpoint)."""
    pid = request.match_info.get("pid")
    if pid is None:
        return {}
    path = request.path.rstrip("/")
    if request.method == "GET" or path.endswith(_PROVIDER_PATHS):
        return {"provider_pid": pid}
    if path.endswith(_CONSUMER_PATHS):
        return {"consumer_pid": pid}
    return {}


def _pids(doc: Any) -> dict[str, str | None]:
    if not isinstance(doc, dict):
        return {}
    out: dict[str, str | None] = {}
    for key, name in (("providerPid", "provider_pid"), ("consumerPid", "consumer_pid")):
        value = doc.get(key)
        out[name] = value if isinstance(value, str) else None
    return out


DSP_KEY: web.AppKey[Dsp] = web.AppKey("agora.dsp", Dsp)
