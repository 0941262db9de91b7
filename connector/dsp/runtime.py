"""What the DSP handlers share: settings, storage, identity, the outbox and the seams."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import rfc8785
from aiohttp import web
from sqlalchemy import text

from connector.dsp.auth import Caller, CallerAuthenticator, LocalIdentity, TokenIssuer
from connector.dsp.callbacks import (
    CallbackRefused,
    callback_owned,
    check_callback,
    check_pid,
    declared_endpoint,
    listed,
)
from connector.dsp.decisions import OfferDecider
from connector.dsp.errors import Area, Code, DspError
from connector.dsp.outbox import LEASE_OWNER, NEEDS_PASS, SEND_NOW, OutboxWorker, Queued
from connector.dsp.pending import DecisionBoard
from connector.dsp.push import PushProvisioner
from connector.dsp.services import NegotiationService, TransferService
from connector.dsp.settings import DecisionSettings
from connector.dsp.validation import SchemaViolation, validate
from connector.http import safe_json
from connector.http.context import ConnectorContext
from connector.http.problems import UnreadableBody, read_body_bytes
from connector.outbound import callback_hosts, is_own_address
from connector.storage.inline import Conn
from identity.did_document import DidDocument
from identity.errors import IdentityError, Reason, ResolutionError
from identity.http_guard import FetchPolicy
from identity.resolver import DidResolver

if TYPE_CHECKING:
    from connector.dsp.access_tokens import AccessTokens

BASE_PATH = "/dsp"
#: Process, agreement and dataset ids we store are at most this long (a longer one is a 400).
MAX_ID = 200
ID_FIELDS = ("providerPid", "consumerPid", "agreementId")
#: ids joined into the URLs we call: opaque tokens (connector.dsp.callbacks.check_pid)
PID_FIELDS = ("providerPid", "consumerPid")


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
    #: Provider: asked when the consumer verified the agreement; True holds the negotiation in
    #: VERIFIED (a condition such as a prepayment is still open) until someone calls
    #: ``negotiations.finalize`` (the marketplace, once the payment is verified).
    finalize_hold: Callable[[Conn, Any], Awaitable[bool]] | None = None
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
        """The operator's callback allow-list. Unlike notification endpoints, development mode
        adds nothing here: a callback is still the caller's DID-declared DSP endpoint."""
        return self.ctx.settings.security.allowed_callback_hosts

    @property
    def policy(self) -> FetchPolicy:
        """Where this connector may send at all (connector.outbound)."""
        return self.ctx.peers().policy

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
        """An address's form and target (the outbound policy), or the area's DSP error."""
        try:
            return check_callback(address, self.policy)
        except CallbackRefused as exc:
            raise self._refused(area, str(exc), pids) from None

    async def accept_callback(
        self,
        address: object,
        area: Area,
        caller: Caller,
        *,
        notifications: bool = False,
        **pids: str | None,
    ) -> str:
        """A peer's ``callbackAddress``: it must pass :meth:`check_callback` and be the DSP
        endpoint the caller's DID document declares (same scheme, host and port) or on the
        operator's allow-list; otherwise the area's DSP error (400), before anything is stored.

        ``notifications``: the address is a push endpoint, which a subscription will notify:
        it follows the rule of every notification endpoint instead (a host of
        ``security.allowed_callback_hosts``; development mode adds loopback), so what DSP
        accepts the subscription accepts too."""
        base = self.check_callback(address, area, **pids)
        if caller.did != self.did and is_own_address(base, self.ctx.settings):
            raise self._refused(area, "the callback address is this connector itself", pids)
        if notifications:
            if listed(base, callback_hosts(self.ctx.settings)):
                return base
            raise self._refused(
                area,
                f"the push endpoint {base[:200]} is not on an allowed notification host "
                "(security.allowed_callback_hosts)",
                pids,
            )
        if listed(base, self.allowed_hosts):
            return base
        try:
            document = await self._document_of(caller.did)
        except IdentityError as exc:
            raise self._refused(
                area, f"the caller's DID document (to check the callback): {exc.detail}", pids
            ) from None
        if callback_owned(base, document):
            return base
        declared = declared_endpoint(document)
        raise self._refused(
            area,
            f"the callback address {base[:200]} is neither the DSP endpoint "
            f"{caller.did}'s DID document declares ({declared or 'none'}) nor on an allowed "
            "callback origin (security.allowed_callback_hosts)",
            pids,
        )

    async def _document_of(self, did: str) -> DidDocument:
        if did == self.did:
            return DidDocument.parse(self.identity.did_document(), did)
        # the DSP resolver: under the outbound policy (loopback only in development mode)
        resolver = self.resolver
        if resolver is None:
            raise ResolutionError(Reason.DID_UNRESOLVABLE, "no DID resolver in this connector")
        document: DidDocument = await resolver.resolve(did)
        return document

    @staticmethod
    def _refused(area: Area, reason: str, pids: dict[str, str | None]) -> DspError:
        return DspError(
            area,
            400,
            Code.CALLBACK_REFUSED,
            reason,
            provider_pid=pids.get("provider_pid"),
            consumer_pid=pids.get("consumer_pid"),
        )

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
        try:
            raw = await read_body_bytes(request)
            doc = safe_json.loads(raw) if raw else None
        except (UnreadableBody, safe_json.UnsafeJson) as exc:
            raise DspError(area, 400, Code.MALFORMED, exc.reason) from None
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
        for key in PID_FIELDS:
            if key in doc:
                try:
                    check_pid(doc[key])
                except ValueError as exc:
                    raise DspError(area, 400, Code.MALFORMED, f"/{key}: {exc}") from None
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
