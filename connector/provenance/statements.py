"""What this connector accepts into its own log from the other party of an agreement.

A record the peer hands over (``POST /ledger/v1/records`` from the consumer, the records of
``POST /ledger/v1/receipts`` from the provider) is stored as the *peer's statement*, never as
our own evidence, and only after it has been checked against what we know ourselves:

- it names an author, and the author is the authenticated caller (or us: one of our own records
  coming back with its receipt, which must then already be in our log);
- the agreement is one we store, with the caller and us as its parties and the record's;
- a consumer's statement is signed by the consumer's key (from its DID document, through the
  same identity resolver as DCP); a provider's statement is attested by its signed tree head and
  inclusion proof, and a signature it carries anyway must verify;
- its time is not before the agreement (or the transfer it is about) nor in the future;
- what it refers to is ours: a transfer or negotiation step names a process we run with the
  caller under that agreement, a duty a transfer of it, an agreement record the agreement we
  store (same hash); it speaks for its author's role only (``details.role``); an access statement
  by the consumer must point (``details.refersTo``, a leaf hash) at an access record of our own
  with the same request and response hashes and decision. A consumer's statement of any other
  kind is refused: nothing here could check it, and the access decisions are the provider's.

Each refusal is a :class:`Refused` with the HTTP status that fits (400 malformed, 403 wrong
author, key or parties, 409 at odds with our own records).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.agreements import canonical
from connector.dsp.tables import agreements, negotiations, transfers
from connector.provenance.peers import AgreementParties, PeerError, Peers
from ledger.errors import RecordError, SignatureError
from ledger.log import Ledger
from ledger.merkle import leaf_hash
from ledger.records import Record
from ledger.statements import statement_kid, verify_statement

PROVIDER, CONSUMER = "provider", "consumer"
#: how far the parties' clocks may disagree
CLOCK_SKEW = timedelta(minutes=5)


class Refused(PeerError):
    """A record the peer sent that we do not store; ``status`` is the HTTP status that fits."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


class StatementChecker:
    """Checks the peer's records against our agreements, processes, keys and own log."""

    def __init__(self, engine: AsyncEngine, peers: Peers, ledger: Ledger, me: str) -> None:
        self.engine = engine
        self.peers = peers
        self.ledger = ledger
        self.me = me

    async def check(self, text: Any, caller: str, caller_role: str) -> Record:
        """The record ``caller`` (the ``caller_role`` of the agreement) sent, once checked."""
        if not isinstance(text, str):
            raise Refused(400, "the record must be its RFC 8785 canonical JSON as a string")
        try:
            record = Record.from_canonical(text.encode())
        except RecordError as exc:
            raise Refused(400, exc.reason) from None
        if not record.author:
            raise Refused(400, "the record names no author: only signed statements are exchanged")
        parties = await self._parties(record, caller, caller_role)
        if record.author == self.me:
            await self._ours(record, caller, caller_role)
            return record
        if record.author != caller:
            raise Refused(
                403, f"the record is authored by {record.author}, not by the caller {caller}"
            )
        await self._signed(record, caller, required=caller_role == CONSUMER)
        when = self._time(record, parties)
        await self._known(record, caller, caller_role, when)
        return record

    async def _parties(self, record: Record, caller: str, caller_role: str) -> AgreementParties:
        parties = None
        if record.agreement_id:
            parties = self.peers.known_parties(record.agreement_id)
            if parties is None:
                parties = await self.peers.parties(record.agreement_id)
        if parties is None:
            raise Refused(409, f"no agreement '{record.agreement_id}' is stored here")
        expected = (caller, self.me) if caller_role == PROVIDER else (self.me, caller)
        if (parties.provider, parties.consumer) != expected:
            raise Refused(403, "the agreement's parties are not the caller and this participant")
        if (record.provider, record.consumer) != expected:
            raise Refused(403, "the record's provider and consumer are not the agreement's parties")
        return parties

    async def _ours(self, record: Record, caller: str, caller_role: str) -> None:
        """A record naming us as its author is only ever one we logged, coming back."""
        if caller_role == CONSUMER:
            raise Refused(
                403,
                f"the record is authored by {self.me} (this participant), not by the caller "
                f"{caller}: nobody writes another party's evidence",
            )
        held = await self.ledger.store.indices_of(
            record.agreement_id, [leaf_hash(record.canonical())]
        )
        if not held:
            raise Refused(
                403, f"{self.me} never logged this record: it is not the caller's to give"
            )

    async def _signed(self, record: Record, caller: str, *, required: bool) -> None:
        if record.signature is None and not required:
            return  # the provider's statement: its signed tree head attests it
        try:
            kid = statement_kid(record)
            key = await self.peers.key(caller, kid)
            verify_statement(record, key)
        except (SignatureError, PeerError) as exc:
            raise Refused(403, exc.reason) from None

    def _time(self, record: Record, parties: AgreementParties) -> datetime:
        try:
            when = datetime.fromisoformat(record.time)
        except ValueError:
            raise Refused(400, f"the record's time {record.time!r} is not RFC 3339") from None
        if when.tzinfo is None:
            raise Refused(400, f"the record's time {record.time!r} has no UTC offset")
        if when > datetime.now(UTC) + CLOCK_SKEW:
            raise Refused(409, f"the record is dated {record.time}, in the future")
        if parties.created_at is not None and when < parties.created_at - CLOCK_SKEW:
            raise Refused(
                409,
                f"the record is dated {record.time}, before agreement {record.agreement_id} "
                f"was made ({parties.created_at.isoformat()})",
            )
        return when

    async def _known(self, record: Record, caller: str, role: str, when: datetime) -> None:
        """The record refers to what we know happened, in its author's role only."""
        details = record.details
        stated = details.get("role")
        if stated is not None and stated != role:
            raise Refused(
                409,
                f"the record states the {stated}'s view, but its author {caller} is the {role}: "
                "nobody records another party's decisions",
            )
        kind = record.kind
        if kind == "transfer":
            await self._transfer(record, caller, when)
        elif kind == "negotiation":
            await self._negotiation(record, caller)
        elif kind == "agreement":
            if role != PROVIDER:
                raise Refused(409, "only the provider records the agreement itself")
            await self._agreement(record)
        elif role == PROVIDER:
            return  # the provider's own decisions (access, notifications): its statement
        elif kind == "duty":
            await self._duty(record, caller)
        elif kind == "access":
            await self._access(record)
        else:
            raise Refused(
                409, f"a '{kind}' statement by the consumer cannot be checked here: not stored"
            )

    async def _transfer(self, record: Record, caller: str, when: datetime) -> None:
        d = record.details
        consumer_pid, provider_pid = d.get("consumerPid"), d.get("providerPid")
        if not isinstance(consumer_pid, str) and not isinstance(provider_pid, str):
            raise Refused(400, "a transfer record names its process (consumerPid, providerPid)")
        stmt = select(transfers.c.provider_pid, transfers.c.consumer_pid, transfers.c.created_at)
        stmt = stmt.where(
            transfers.c.agreement_id == record.agreement_id,
            transfers.c.counterparty_did == caller,
        )
        if isinstance(consumer_pid, str):
            stmt = stmt.where(transfers.c.consumer_pid == consumer_pid)
        else:
            stmt = stmt.where(transfers.c.provider_pid == provider_pid)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        for row in rows:
            if isinstance(provider_pid, str) and row.provider_pid not in (None, provider_pid):
                continue
            created = _utc(row.created_at)
            if created is not None and when < created - CLOCK_SKEW:
                raise Refused(409, f"the record is dated {record.time}, before its transfer began")
            return
        raise Refused(
            409, f"no transfer of agreement {record.agreement_id} with {caller} matches the record"
        )

    async def _negotiation(self, record: Record, caller: str) -> None:
        d = record.details
        stmt = select(negotiations.c.provider_pid, negotiations.c.consumer_pid).where(
            negotiations.c.agreement_id == record.agreement_id,
            negotiations.c.counterparty_did == caller,
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        for row in rows:
            if all(
                d.get(name) is None or mine is None or d.get(name) == mine
                for name, mine in (
                    ("providerPid", row.provider_pid),
                    ("consumerPid", row.consumer_pid),
                )
            ):
                return
        raise Refused(
            409, f"no negotiation of agreement {record.agreement_id} with {caller} matches"
        )

    async def _agreement(self, record: Record) -> None:
        stmt = select(agreements.c.agreement).where(agreements.c.id == record.agreement_id)
        async with self.engine.connect() as conn:
            terms = (await conn.execute(stmt)).scalar_one_or_none()
        if terms is None:
            raise Refused(409, f"no agreement '{record.agreement_id}' is stored here")
        mine = hashlib.sha256(canonical(json.loads(terms))).hexdigest()
        if record.request_hash != mine:
            raise Refused(
                409, "the record's agreement hash is not that of the agreement stored here"
            )

    async def _duty(self, record: Record, caller: str) -> None:
        transfer_id = record.details.get("transferId")
        if not isinstance(transfer_id, str):
            raise Refused(400, "a duty record names its transfer (details.transferId)")
        stmt = select(transfers.c.pid).where(
            transfers.c.agreement_id == record.agreement_id,
            transfers.c.counterparty_did == caller,
            (transfers.c.consumer_pid == transfer_id) | (transfers.c.provider_pid == transfer_id),
        )
        async with self.engine.connect() as conn:
            if (await conn.execute(stmt.limit(1))).first() is None:
                raise Refused(
                    409,
                    f"no transfer {transfer_id} of agreement {record.agreement_id} is known here",
                )

    async def _access(self, record: Record) -> None:
        """The consumer's word on an access: only about one we served, exactly as we logged it."""
        refers = record.details.get("refersTo")
        try:
            leaf = bytes.fromhex(refers) if isinstance(refers, str) else b""
        except ValueError:
            leaf = b""
        if len(leaf) != 32:
            raise Refused(
                409,
                "an access statement by the consumer must name the leaf hash of this "
                "participant's own access record (details.refersTo); the decisions are its own",
            )
        held = await self.ledger.store.indices_of(record.agreement_id, [leaf])
        mine = None
        if held:
            entry = await self.ledger.store.entry(held[leaf])
            try:
                mine = Record.from_canonical(entry.data) if entry is not None else None
            except RecordError:
                mine = None
        if (
            mine is None
            or mine.kind != "access"
            or mine.author != self.me
            or (mine.request_hash, mine.response_hash, mine.decision)
            != (record.request_hash, record.response_hash, record.decision)
        ):
            raise Refused(
                409,
                "this participant served no access with that request, response and decision "
                f"under agreement {record.agreement_id}",
            )
