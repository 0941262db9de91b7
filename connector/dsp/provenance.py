"""Log negotiations and transfers on this participant's provenance ledger.

Each side logs what it saw: an agreement when the negotiation is FINALIZED (with the SHA-256
of the canonical agreement, so both ledgers can be compared, and the provider's signature),
a termination, and every transfer state change (started, suspended, completed, terminated).
Records are appended after the state change has committed; the ledger is another component,
so a crash between the two can lose a record (the DSP state itself is never lost).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from connector.dsp.agreements import canonical
from connector.dsp.negotiation_states import Role
from connector.dsp.process import row_by
from connector.dsp.runtime import Dsp, StateChange
from connector.dsp.tables import agreements, negotiations, transfers
from ledger.records import Record

LOGGED_NEGOTIATION_STATES = {"FINALIZED", "TERMINATED"}


class LedgerRecorder:
    """A state-change listener that appends provenance records in the background."""

    def __init__(self, dsp: Dsp) -> None:
        self.dsp = dsp

    def __call__(self, change: StateChange) -> None:
        if change.kind == "negotiation" and change.state not in LOGGED_NEGOTIATION_STATES:
            return
        if "provenance" not in self.dsp.ctx.components:
            return
        self.dsp.ctx.tasks.spawn(self._record(change), name=f"dsp-ledger-{change.pid}")

    async def _record(self, change: StateChange) -> None:
        await self.dsp.ctx.foreground.quiet()  # after the requests in progress
        table = negotiations if change.kind == "negotiation" else transfers
        async with self.dsp.ctx.db.connect() as conn:
            row = (await conn.execute(row_by(table.c.pid), {"k": change.pid})).first()
            if row is None:
                return
            agreement = None
            if row.agreement_id:
                agreement = (
                    await conn.execute(row_by(agreements.c.id), {"k": row.agreement_id})
                ).first()
        record = self._build(change, row, agreement)
        await self.dsp.ctx.components["provenance"].record(record)

    def _build(self, change: StateChange, row: Any, agreement: Any) -> Record:
        me, peer = self.dsp.did, row.counterparty_did
        provider, consumer = (me, peer) if row.role == Role.PROVIDER else (peer, me)
        details: dict[str, Any] = {
            "process": change.kind,
            "role": row.role,
            "providerPid": row.provider_pid,
            "consumerPid": row.consumer_pid,
        }
        request_hash = ""
        if agreement is not None:
            terms = json.loads(agreement.agreement)
            request_hash = hashlib.sha256(canonical(terms)).hexdigest()
            details["target"] = agreement.target
            if agreement.signature:
                details["providerSignature"] = agreement.signature
            else:  # from a provider without Agora's signature extension
                details["agreementSigned"] = False
        if change.kind == "transfer":
            details["format"] = row.format
        if row.error:
            details["reason"] = str(row.error)[:500]
        return Record(
            provider=provider,
            consumer=consumer,
            agreement_id=row.agreement_id or "",
            action=f"{change.kind}:{change.state}",
            decision="agreed" if change.state == "FINALIZED" else change.state.lower(),
            request_hash=request_hash,
            kind=change.kind,
            details=details,
        )
