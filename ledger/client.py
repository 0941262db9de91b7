"""An async client for a connector's ledger API (Certificate-Transparency-like, see ``api.py``)
and :func:`audit_remote`, the ``agora audit`` check of a remote log that trusts nothing it reads.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp

from .audit import (
    AuditReport,
    Finding,
    authors_of,
    check_anchors,
    check_heads,
    compare_parties,
    verify_log,
)
from .errors import AuditClientError, LedgerError, RecordError
from .merkle import MerkleTree, verify_inclusion
from .receipts import Receipt
from .records import canonicalize
from .signing import PublicKey
from .store import AnchorRow, Entry
from .treehead import TreeHead

if TYPE_CHECKING:
    from .anchor import Anchorer

PREFIX = "/api/v1/ledger"

#: the DIDs of a log's other authors → their public keys by key id
StatementKeys = Callable[[list[str]], Awaitable[Mapping[str, PublicKey]]]


class LedgerClient:
    """Reads one connector's ledger API at ``base_url`` (e.g. ``https://city.example``)."""

    def __init__(
        self,
        base_url: str,
        session: aiohttp.ClientSession | None = None,
        *,
        timeout: float = 30.0,
        concurrency: int = 16,
    ) -> None:
        self.base = base_url.rstrip("/") + PREFIX
        self._own_session = session is None
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._limit = asyncio.Semaphore(concurrency)

    async def __aenter__(self) -> LedgerClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        url = self.base + path
        async with self._limit:
            try:
                async with self._session.get(url, params=params) as response:
                    if response.status != 200:
                        body = (await response.text())[:200]
                        raise AuditClientError(f"GET {url} answered {response.status}: {body}")
                    doc = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise AuditClientError(f"GET {url} failed: {exc}") from exc
        if not isinstance(doc, dict):
            raise AuditClientError(f"GET {url} did not answer a JSON object")
        return doc

    async def tree_head(self) -> TreeHead:
        return TreeHead.from_json(await self._get("/tree-head"))

    async def entry(self, index: int) -> Entry:
        return _entry(index, await self._get(f"/records/{index}"))

    async def entries(self, size: int) -> list[Entry]:
        """Records ``[0, size)``: by ranges when the server offers them, else one by one."""
        try:
            found: list[Entry] = []
            while len(found) < size:
                doc = await self._get("/records", {"start": len(found), "end": size})
                batch = [_entry(int(r["index"]), r) for r in doc.get("records", [])]
                if not batch:
                    break
                found += batch
            return found
        except (AuditClientError, KeyError, TypeError, ValueError):
            return list(await asyncio.gather(*(self.entry(i) for i in range(size))))

    async def records_for_agreement(self, agreement_id: str) -> list[Entry]:
        doc = await self._get("/records", {"agreement": agreement_id})
        return [_entry(int(r["index"]), r) for r in doc.get("records", [])]

    async def receipts(self, agreement_id: str) -> list[Receipt]:
        doc = await self._get("/receipts", {"agreement": agreement_id})
        try:
            return [Receipt.from_json(r) for r in doc.get("receipts", [])]
        except LedgerError as exc:
            raise AuditClientError(f"malformed receipts: {exc.reason}") from exc

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        doc = await self._get("/proofs/inclusion", {"index": index, "size": size})
        return _hashes(doc)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        doc = await self._get("/proofs/consistency", {"first": first, "second": second})
        return _hashes(doc)

    async def anchors(self) -> tuple[bytes, list[AnchorRow]]:
        doc = await self._get("/anchors")
        try:
            rows = [
                AnchorRow(
                    int(a["size"]),
                    bytes.fromhex(a["root"]),
                    int(a["timestamp"]),
                    bytes.fromhex(a["log_id"]),
                    int(a["chain_id"]),
                    str(a["contract"]),
                    str(a["tx_hash"]),
                    int(a["block_number"]),
                )
                for a in doc.get("anchors", [])
            ]
            return bytes.fromhex(doc["log_id"]), rows
        except (KeyError, TypeError, ValueError) as exc:
            raise AuditClientError(f"malformed anchors document: {exc}") from exc


def _entry(index: int, doc: Mapping[str, Any]) -> Entry:
    """Rebuild the leaf data from the served record: its RFC 8785 canonical JSON."""
    try:
        record, leaf = doc["record"], bytes.fromhex(doc["leaf_hash"])
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditClientError(f"malformed record {index}: {exc}") from exc
    if record is None and isinstance(doc.get("data_hex"), str):
        try:
            return Entry(index, bytes.fromhex(doc["data_hex"]), leaf)
        except ValueError as exc:
            raise AuditClientError(f"malformed record {index}: {exc}") from exc
    try:
        data = canonicalize(record)
    except RecordError:
        data = json.dumps(record, sort_keys=True).encode()
    return Entry(index, data, leaf)


def _hashes(doc: Mapping[str, Any]) -> list[bytes]:
    try:
        return [bytes.fromhex(h) for h in doc["hashes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditClientError(f"malformed proof: {exc}") from exc


async def audit_remote(
    client: LedgerClient,
    public_key: PublicKey,
    *,
    previous: TreeHead | None = None,
    anchorer: Anchorer | None = None,
    anchor_sender: str | None = None,
    log_id: bytes | None = None,
    samples: int = 8,
    owner: str | None = None,
    statement_keys: StatementKeys | None = None,
) -> AuditReport:
    """Audit a remote log end to end: every record against the signed head, the log's consistency
    with a head the auditor saw before, a sample of the server's inclusion proofs, and (given an
    anchorer bound to the anchor contract) its anchors on chain. The chain is read under
    ``log_id`` (default: SHA-256 of the head's kid, as :class:`~ledger.log.Ledger` derives it),
    never under an id the server chooses. Given the log's ``owner`` (its DID) the report says
    whose evidence it holds; ``statement_keys`` (the other authors' DIDs → their keys by key id,
    e.g. from their DID documents) lets it check the statements' signatures."""
    head = await client.tree_head()
    entries = await client.entries(head.size)
    earlier = [previous] if previous is not None else []
    report = verify_log(entries, head, public_key, earlier_heads=earlier, subject=client.base)
    if owner is not None:
        report.merge(await _authors(entries, owner, statement_keys))
    tree = MerkleTree([e.leaf_hash for e in entries])
    if previous is not None and previous.size <= head.size:
        proof = await client.consistency_proof(previous.size, head.size)
        report.merge(check_heads(previous, head, proof, public_key))
    await _sample_inclusion(client, head, tree, samples, report)
    if anchorer is not None:
        served_id, claimed = await client.anchors()
        expected_id = log_id or hashlib.sha256(head.kid.encode()).digest()  # Ledger's default
        if served_id != expected_id:
            report.add(
                Finding.ANCHOR_MISMATCH,
                f"the log names its anchors log id {served_id.hex()}, not {expected_id.hex()}",
            )
        chain = await anchorer.anchored_async(expected_id)
        report.merge(
            check_anchors(chain, tree.root, tree.size, claimed=claimed, sender=anchor_sender)
        )
    return report


async def _authors(
    entries: Sequence[Entry], owner: str, statement_keys: StatementKeys | None
) -> AuditReport:
    """Whose evidence the log holds; the statements' signatures checked with their authors'
    keys when ``statement_keys`` can find them (only the statements are read twice)."""
    found = authors_of(entries, owner)
    authorship = found.authorship[0]
    if statement_keys is None or not authorship.statements:
        return found
    keys = await statement_keys(sorted(authorship.statements))
    indices = {i for group in authorship.statements.values() for i in group}
    checked = authors_of([e for e in entries if e.index in indices], owner, keys.get)
    authorship.signed = checked.authorship[0].signed
    authorship.unverified = checked.authorship[0].unverified
    found.discrepancies = checked.discrepancies
    return found


async def _sample_inclusion(
    client: LedgerClient, head: TreeHead, tree: MerkleTree, samples: int, report: AuditReport
) -> None:
    """The server's inclusion proofs must verify against its own signed head."""
    report.checks.append("inclusion proofs")
    size = min(head.size, tree.size)
    for index in sorted(random.sample(range(size), min(samples, size))):
        try:
            proof = await client.inclusion_proof(index, head.size)
        except LedgerError as exc:
            report.add(Finding.BAD_PROOF, f"no inclusion proof for {index}: {exc.reason}", index)
            continue
        if not verify_inclusion(tree.leaf(index), index, head.size, proof, head.root):
            report.add(Finding.BAD_PROOF, f"inclusion proof for {index} does not verify", index)


async def audit_agreement(
    provider: LedgerClient,
    consumer: LedgerClient,
    agreement_id: str,
    provider_key: PublicKey,
    consumer_key: PublicKey,
    *,
    provider_did: str | None = None,
    consumer_did: str | None = None,
    key_of: Callable[[str], PublicKey | None] | None = None,
) -> AuditReport:
    """Compare what both parties logged about one agreement, using the receipts the consumer
    keeps (a consumer's receipts are the evidence against the provider, and the reverse); with
    the parties' DIDs, also whose statement each record is (see :func:`compare_parties`)."""
    provider_entries = await provider.records_for_agreement(agreement_id)
    consumer_entries = await consumer.records_for_agreement(agreement_id)
    receipts = await consumer.receipts(agreement_id)
    return compare_parties(
        agreement_id,
        provider_entries,
        consumer_entries,
        receipts,
        provider_key,
        consumer_key,
        provider_did=provider_did,
        consumer_did=consumer_did,
        key_of=key_of,
    )
