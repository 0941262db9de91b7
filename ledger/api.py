"""JSON documents of the ledger API, shaped like Certificate Transparency (RFC 9162 §5).

The connector wires these to routes; each function returns the body of one endpoint:

- ``GET /api/v1/ledger/tree-head`` → :func:`tree_head_json`
- ``GET /api/v1/ledger/records/{index}`` → :func:`record_json`
- ``GET /api/v1/ledger/records?agreement=<id>`` → :func:`records_by_agreement_json`
- ``GET /api/v1/ledger/records?start=&end=`` → :func:`records_range_json` (at most
  ``MAX_RANGE`` records, like CT's get-entries; auditors fetch large logs this way)
- ``GET /api/v1/ledger/proofs/inclusion?index=&size=`` → :func:`inclusion_proof_json`
- ``GET /api/v1/ledger/proofs/consistency?first=&second=`` → :func:`consistency_proof_json`
- ``GET /api/v1/ledger/anchors`` → :func:`anchors_json`
- ``GET /api/v1/ledger/receipts?agreement=<id>`` → :func:`receipts_json` (the receipts this party
  keeps: issued as provider, countersigned as consumer)

Bad arguments raise :class:`~ledger.errors.ProofError` (a 400 or 404 for the connector).
"""

from __future__ import annotations

import json
from typing import Any

from .errors import ProofError
from .log import Ledger
from .store import Entry


def _entry_json(entry: Entry) -> dict[str, Any]:
    """A stored record as JSON; bytes that are not JSON (a damaged row) are served as hex so an
    auditor still sees them, and their hash, instead of an error."""
    doc: dict[str, Any] = {"index": entry.index, "leaf_hash": entry.leaf_hash.hex()}
    try:
        doc["record"] = json.loads(entry.data)
    except ValueError:
        doc["record"], doc["data_hex"] = None, entry.data.hex()
    return doc


async def tree_head_json(ledger: Ledger) -> dict[str, Any]:
    return (await ledger.tree_head()).to_json()


async def record_json(ledger: Ledger, index: int) -> dict[str, Any]:
    return _entry_json(await ledger.entry(index))


async def records_by_agreement_json(ledger: Ledger, agreement_id: str) -> dict[str, Any]:
    entries = await ledger.store.entries_for_agreement(agreement_id)
    return {"agreement": agreement_id, "records": [_entry_json(e) for e in entries]}


MAX_RANGE = 1000


async def records_range_json(ledger: Ledger, start: int, end: int) -> dict[str, Any]:
    """Records ``[start, end)``, cut to ``MAX_RANGE`` and to the log's size."""
    if start < 0 or end <= start:
        raise ProofError(f"no records in [{start}, {end})")
    entries = await ledger.entries(start, min(end, start + MAX_RANGE))
    return {"start": start, "records": [_entry_json(e) for e in entries]}


async def inclusion_proof_json(ledger: Ledger, index: int, size: int) -> dict[str, Any]:
    proof = await ledger.inclusion_proof(index, size)
    return {"index": index, "size": size, "hashes": [h.hex() for h in proof]}


async def consistency_proof_json(ledger: Ledger, first: int, second: int) -> dict[str, Any]:
    proof = await ledger.consistency_proof(first, second)
    return {"first": first, "second": second, "hashes": [h.hex() for h in proof]}


async def anchors_json(ledger: Ledger) -> dict[str, Any]:
    return {"log_id": ledger.log_id.hex(), "anchors": [a.to_json() for a in await ledger.anchors()]}


async def receipts_json(ledger: Ledger, agreement_id: str) -> dict[str, Any]:
    receipts = await ledger.receipts(agreement_id)
    return {"agreement": agreement_id, "receipts": [r.to_json() for r in receipts]}
