"""Negotiation steps and the agreement itself on the ledger, from the DSP state-change listeners.

The DSP package already logs what binds (``connector.dsp.provenance``: FINALIZED and TERMINATED
negotiations, every transfer state). This listener adds the rest of an audit trail:

- every other negotiation step (REQUESTED, OFFERED, ACCEPTED, AGREED, VERIFIED; kind
  ``negotiation``, action ``negotiation:<STATE>``, the DSP message that led there, the SHA-256 of
  the canonical offer or agreement as request hash). Before there is an agreement the record has
  no agreement id (its process ids are in the details) and stays in the party's own log: the other
  party cannot yet tell which agreement it belongs to;
- the agreement (kind ``agreement``), once, by the provider when the negotiation is FINALIZED:
  assigner, assignee, target, the SHA-256 of the RFC 8785 agreement and the provider's JWS over
  it. Its receipt makes the consumer countersign exactly that agreement.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from connector.dsp.agreements import canonical
from connector.dsp.negotiation_states import NMessage, Role
from connector.dsp.process import row_by
from connector.dsp.runtime import Dsp, StateChange
from connector.dsp.tables import agreements, negotiations
from ledger.records import Record

#: the message whose arrival or sending puts a negotiation in each state
MESSAGE_OF = {
    "REQUESTED": NMessage.REQUEST.value,
    "OFFERED": NMessage.OFFER.value,
    "ACCEPTED": NMessage.ACCEPTED.value,
    "AGREED": NMessage.AGREEMENT.value,
    "VERIFIED": NMessage.VERIFICATION.value,
    "FINALIZED": NMessage.FINALIZED.value,
}


def _sha256(doc: Any) -> str:
    return hashlib.sha256(canonical(doc)).hexdigest()


class NegotiationRecorder:
    """A DSP state-change listener (called after commit) that appends in the background."""

    def __init__(self, dsp: Dsp) -> None:
        self.dsp = dsp

    def __call__(self, change: StateChange) -> None:
        if change.kind != "negotiation" or change.state not in MESSAGE_OF:
            return
        self.dsp.ctx.tasks.spawn(self._record(change), name=f"ledger-negotiation-{change.pid}")

    async def _record(self, change: StateChange) -> None:
        await self.dsp.ctx.foreground.quiet()  # after the requests in progress
        async with self.dsp.ctx.db.connect() as conn:
            row = (await conn.execute(row_by(negotiations.c.pid), {"k": change.pid})).first()
            agreement = None
            if row is not None and row.agreement_id:
                agreement = (
                    await conn.execute(row_by(agreements.c.id), {"k": row.agreement_id})
                ).first()
        if row is None:
            return
        provenance = self.dsp.ctx.components["provenance"]
        if change.state == "FINALIZED":
            if row.role == Role.PROVIDER and agreement is not None:
                await provenance.record(self._agreement(agreement))
            return  # the negotiation record itself is the DSP package's
        await provenance.record(self._step(change, row, agreement))

    def _step(self, change: StateChange, row: Any, agreement: Any) -> Record:
        me, peer = self.dsp.did, row.counterparty_did
        provider, consumer = (me, peer) if row.role == Role.PROVIDER else (peer, me)
        details: dict[str, Any] = {
            "process": "negotiation",
            "role": row.role,
            "message": MESSAGE_OF[change.state],
            "providerPid": row.provider_pid,
            "consumerPid": row.consumer_pid,
        }
        request_hash = ""
        if agreement is not None:
            request_hash = _sha256(json.loads(agreement.agreement))
        elif row.offer:
            try:
                request_hash = _sha256(json.loads(row.offer))
            except ValueError:
                request_hash = hashlib.sha256(str(row.offer).encode()).hexdigest()
        if row.dataset_id:
            details["target"] = row.dataset_id
        return Record(
            kind="negotiation",
            provider=provider,
            consumer=consumer,
            agreement_id=row.agreement_id if agreement is not None else "",
            action=f"negotiation:{change.state}",
            decision=change.state.lower(),
            request_hash=request_hash,
            details=details,
        )

    def _agreement(self, agreement: Any) -> Record:
        terms = json.loads(agreement.agreement)
        details: dict[str, Any] = {
            "agreementHash": _sha256(terms),
            "target": agreement.target,
            "negotiation": agreement.negotiation_pid,
        }
        if agreement.signature:
            details["providerSignature"] = agreement.signature
        return Record(
            kind="agreement",
            provider=agreement.provider_did,
            consumer=agreement.consumer_did,
            agreement_id=agreement.id,
            action="agreement:signed",
            decision="agreed",
            request_hash=details["agreementHash"],
            details=details,
        )
