"""Transfer grants for the PEP: the token checked once, the transfer's state on every request.

:meth:`AccessTokens.verify_access_token` (DSP) does everything — JWT signature, expiry,
consumer binding, transfer STARTED, agreement loaded — and is called the first time a token is
seen. What it established about a token never changes (signature, claims, which agreement,
the agreement's terms), so the grant is kept per token until the token expires. What does
change is the transfer's state: suspension and termination must revoke access *at once*, so
every request still has the state read from the database.

On PostgreSQL that read is coalesced: a request waits for a state read that *starts after it
arrived* (never one already in flight), and all requests waiting for the same transfer share it.
So each answer reflects the state at or after its arrival — revocation is exact, with no caching
window — while 16 concurrent requests cost one small SELECT instead of sixteen signature checks
and thirty-two queries. Across replicas nothing is shared in memory: each reads the same
database. On SQLite, where one process owns the database, the state is read once and then kept
current by the DSP's own state-change notifications (:meth:`Grants.changed`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.access_tokens import AccessDenied, AccessTokens, TransferGrant
from connector.dsp.runtime import StateChange
from connector.dsp.tables import transfers

STARTED = "STARTED"
#: SQLite: how long a state the DSP told us of (or we read) is used without reading again. DSP
#: transitions update it at once; this bounds only edits made around the connector (SQL by hand).
KNOWN_FOR_S = 1.0


_STATE_SQL = f"SELECT state FROM {transfers.name} WHERE pid = ? AND role = 'provider'"
_PG_STATE_SQL = f"SELECT state FROM {transfers.name} WHERE pid = $1 AND role = 'provider'"


class _StateRead:
    """The pending and the running state read of one transfer."""

    __slots__ = ("next", "running")

    def __init__(self) -> None:
        self.running: asyncio.Task[str | None] | None = None
        self.next: asyncio.Future[str | None] | None = None


class Grants:
    def __init__(self, tokens: AccessTokens, engine: AsyncEngine, size: int = 4096) -> None:
        self.tokens = tokens
        self.engine = engine
        self.size = size
        self._grants: OrderedDict[str, TransferGrant] = OrderedDict()
        self._reads: dict[str, _StateRead] = {}
        self.state_reads = 0  # observable: SQL state reads actually made
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._pg = engine.dialect.name == "postgresql"
        self._inline: sqlite3.Connection | None = None
        self._known: dict[str, tuple[str, float]] = {}  # SQLite: id -> (state, since); changed()
        if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
            # A read-only connection of our own, used only on the event loop's thread: the
            # statement is prepared once and cached by sqlite3, so a state read costs a few
            # microseconds instead of SQLAlchemy's per-execution overhead.
            self._inline = sqlite3.connect(
                Path(engine.url.database).resolve().as_uri() + "?mode=ro",
                uri=True,
                check_same_thread=False,
            )
            self._inline.execute("PRAGMA busy_timeout=10000")
            self._inline.execute("PRAGMA query_only=ON")

    def known(self, token: str) -> bool:
        """Whether ``token`` is kept as a grant (it passed the full check once)."""
        return token in self._grants

    async def verify(self, token: str) -> tuple[TransferGrant, bool]:
        """The grant of a valid token, and whether the transfer's state was just checked.

        A token seen for the first time gets DSP's full check (its state included); a known
        one is only checked for expiry here: call :meth:`check` for its state.
        """
        grant = self._grants.get(token)
        if grant is None:
            grant = await self.tokens.verify_access_token(token)  # full check, state included
            self._grants[token] = grant
            if len(self._grants) > self.size:
                self._grants.popitem(last=False)
            return grant, True
        if time.time() >= grant.expires_at:
            self._grants.pop(token, None)
            raise AccessDenied("the access token has expired; refresh it")
        return grant, False

    async def check(self, grant: TransferGrant) -> None:
        """:class:`AccessDenied` unless the grant's transfer is STARTED (read after this call)."""
        if not self.check_inline(grant):
            _require_started(await self._state(grant.transfer_id))

    def check_inline(self, grant: TransferGrant) -> bool:
        """On SQLite, the state check done right here; False when the engine needs an
        asynchronous read (PostgreSQL): use :meth:`check`."""
        if self._inline is None:
            return False
        _require_started(self._sqlite_state(grant.transfer_id))
        return True

    def _sqlite_state(self, transfer_id: str) -> str | None:
        """The state the DSP last told us of, else read (and kept) right here."""
        state = self._known_state(transfer_id)
        if state is None:
            state = self._read_inline(transfer_id)
            if state is not None:
                self._remember(transfer_id, state)
        return state

    def changed(self, change: StateChange) -> None:
        """A DSP state change has committed (listener of :class:`connector.dsp.runtime.Dsp`).

        On SQLite one process owns the database and every transfer transition goes through its
        DSP transactions, which tell their listeners right after the commit and before anyone
        is answered; so the state known here is the database's, and a suspension or
        termination holds from the next request on without a read per request. A state is
        read again after :data:`KNOWN_FOR_S`, for changes made around the connector."""
        if change.kind == "transfer" and self._inline is not None:
            self._remember(change.pid, change.state)

    def _known_state(self, transfer_id: str) -> str | None:
        found = self._known.get(transfer_id)
        if found is None or time.monotonic() - found[1] > KNOWN_FOR_S:
            return None
        return found[0]

    def _remember(self, transfer_id: str, state: str) -> None:
        if len(self._known) >= self.size and transfer_id not in self._known:
            self._known.clear()
        self._known[transfer_id] = (state, time.monotonic())

    def _read_inline(self, transfer_id: str) -> str | None:
        """SQLite: an indexed point read costs microseconds on the loop, less than the hand-off
        to an aiosqlite thread (which a busy machine makes milliseconds)."""
        assert self._inline is not None
        self.state_reads += 1
        row = self._inline.execute(_STATE_SQL, (transfer_id,)).fetchone()
        return None if row is None else str(row[0])

    @staticmethod
    def _state_query(transfer_id: str) -> Any:
        return (
            select(transfers.c.state)
            .where(transfers.c.pid == transfer_id)
            .where(transfers.c.role == "provider")
        )

    async def _state(self, transfer_id: str) -> str | None:
        reads = self._reads.get(transfer_id)
        if reads is None:
            reads = self._reads[transfer_id] = _StateRead()
        waiting = reads.next
        if waiting is None:
            waiting = reads.next = asyncio.get_running_loop().create_future()
            if reads.running is None:
                self._launch(transfer_id, reads)
        return await asyncio.shield(waiting)

    def _launch(self, transfer_id: str, reads: _StateRead) -> None:
        waiting = reads.next
        assert waiting is not None
        reads.next = None
        reads.running = asyncio.create_task(self._read(transfer_id))

        def finished(task: asyncio.Task[str | None]) -> None:
            reads.running = None
            if task.cancelled():
                waiting.cancel()
            elif task.exception() is not None:
                waiting.set_exception(task.exception())  # type: ignore[arg-type]
            else:
                waiting.set_result(task.result())
            if reads.next is not None:
                self._launch(transfer_id, reads)  # those who came during this read
            else:
                self._reads.pop(transfer_id, None)

        reads.running.add_done_callback(finished)

    async def _read(self, transfer_id: str) -> str | None:
        self.state_reads += 1
        # one statement: no transaction around it (a BEGIN and a ROLLBACK were two of the
        # three round trips of every state read)
        async with self._autocommit.connect() as conn:
            if self._pg:
                # straight to asyncpg, which prepares the statement once per connection:
                # SQLAlchemy's compile, cache lookup and result wrapping cost twice the query
                raw = await conn.get_raw_connection()
                driver: Any = raw.driver_connection
                state = await driver.fetchval(_PG_STATE_SQL, transfer_id)
            else:
                state = await conn.scalar(self._state_query(transfer_id))
        return None if state is None else str(state)

    def close(self) -> None:
        if self._inline is not None:
            self._inline.close()
            self._inline = None


def _require_started(state: str | None) -> None:
    if state != STARTED:
        raise AccessDenied(f"the transfer is {state}, not STARTED")
