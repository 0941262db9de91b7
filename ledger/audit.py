"""Audits that trust neither party: every check returns an :class:`AuditReport` naming each
discrepancy it finds instead of stopping at the first.

- :func:`verify_log` — all leaves → root equals the signed head (RFC 9162 §2.1.1), signature
  valid, no record altered, reordered or dropped, and consistent with heads seen earlier.
- :func:`check_heads` — two signed heads of one log are consistent (RFC 9162 §2.1.4.2).
- :func:`compare_parties` — what provider and consumer logged about one agreement matches, each
  provider record carries the consumer's countersigned receipt, and each party's records are its
  own: a consumer's statement in the provider's log carries the consumer's valid signature.
- given the log's owner, each report says whose evidence the log holds
  (:class:`~ledger.statements.Authorship`): the owner's own records apart from the statements of
  every other author.
- :func:`check_anchors` — anchors on chain match the log (same root at the anchored size).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from hashlib import sha256
from typing import TYPE_CHECKING

from .bulk import paused_gc
from .errors import ProofError, RecordError
from .findings import AuditReport, Discrepancy, Finding, TimelineEvent
from .log import Ledger
from .merkle import LEAF_PREFIX, MerkleTree, leaf_hash, verify_consistency
from .receipts import Receipt, receipt_problems
from .records import Record
from .signing import PublicKey, VerifiedSignatures
from .statements import Authorship, attribute, statement_problem
from .store import AnchorRow, Entry
from .treehead import TreeHead

if TYPE_CHECKING:  # web3 is heavy to import; audits only read these objects
    from .anchor import Anchorer, ChainAnchor

__all__ = [
    "AuditReport",
    "Discrepancy",
    "Finding",
    "TimelineEvent",
    "audit_ledger",
    "check_anchors",
    "check_heads",
    "compare_parties",
    "verify_log",
]


# -- one log end to end -------------------------------------------------------------------------


def verify_log(
    entries: Sequence[Entry],
    head: TreeHead,
    public_key: PublicKey,
    *,
    earlier_heads: Iterable[TreeHead] = (),
    check_canonical: bool = False,
    subject: str = "log",
    owner: str | None = None,
    key_of: Callable[[str], PublicKey | None] | None = None,
) -> AuditReport:
    """Check a whole log against its signed head (and heads it signed earlier).

    Each stored record is re-hashed (RFC 9162 §2.1.1 leaf hash) and compared with its stored leaf
    hash (naming altered and moved records), then the leaf hashes must produce the signed root
    (catching a record rewritten together with its leaf hash). Earlier heads bound where a change
    happened and reveal forks and truncation. Given the log's ``owner`` (its DID), the report
    also says whose evidence the log holds; with ``key_of`` (key id → an author's public key),
    every signed statement's signature is checked (``bad-statement`` when it fails).
    """
    with paused_gc():
        report = _verify_log(entries, head, public_key, earlier_heads, check_canonical, subject)
        if owner is not None:
            report.merge(authors_of(entries, owner, key_of))
        return report


def authors_of(
    entries: Sequence[Entry],
    owner: str,
    key_of: Callable[[str], PublicKey | None] | None = None,
) -> AuditReport:
    """Whose evidence the log of ``owner`` holds; a statement whose signature is present but
    does not verify (or, with ``key_of``, whose key cannot be had) is named."""
    report = AuditReport(f"authors of {owner}'s log", checks=["authors"])
    authorship = attribute(((e.index, e.data) for e in entries), owner, key_of)
    for index, why in sorted(authorship.unverified.items()):
        report.add(Finding.BAD_STATEMENT, f"record {index}: {why}", index)
    report.authorship.append(authorship)
    return report


def _verify_log(
    entries: Sequence[Entry],
    head: TreeHead,
    public_key: PublicKey,
    earlier_heads: Iterable[TreeHead],
    check_canonical: bool,
    subject: str,
) -> AuditReport:
    report = AuditReport(subject, checks=["signature", "leaf hashes", "root"], head=head)
    if not head.verify(public_key):
        report.add(Finding.BAD_SIGNATURE, f"tree head of size {head.size} is not validly signed")
    stored = _check_leaves(entries, report, check_canonical)
    report.records_checked = len(stored)
    tree = MerkleTree(stored)  # records that do not match their leaf hash are named above
    if tree.size < head.size:
        report.add(
            Finding.TRUNCATED,
            f"the log holds {tree.size} records but its signed head commits to {head.size}",
        )
    elif tree.root(head.size) != head.root:
        report.add(Finding.ROOT_MISMATCH, _root_detail(tree, head, earlier_heads))
    for earlier in earlier_heads:
        _check_earlier(tree, head, earlier, public_key, report)
    report.timeline += _record_events(entries, (d.index for d in report.discrepancies))
    return report


def _check_leaves(entries: Sequence[Entry], report: AuditReport, canonical: bool) -> list[bytes]:
    """Recompute every leaf hash (RFC 9162 §2.1.1); name altered, moved and missing records.
    Returns the stored leaf hashes of the contiguous prefix, which the signed roots must then
    account for."""
    count = next((i for i, e in enumerate(entries) if e.index != i), len(entries))
    if count < len(entries):
        report.add(Finding.MISSING_RECORD, f"record {count} is missing", count)
    prefix = entries[:count]
    stored = [e.leaf_hash for e in prefix]
    computed = [sha256(LEAF_PREFIX + e.data).digest() for e in prefix]
    if computed != stored:
        position = {h: i for i, h in enumerate(stored)}
        for i, (mine, theirs) in enumerate(zip(computed, stored, strict=True)):
            if mine != theirs:
                _name_bad_leaf(i, position.get(mine), report)
    if canonical:
        for entry in prefix:
            try:
                Record.from_canonical(entry.data)
            except RecordError as exc:
                report.add(Finding.NON_CANONICAL_RECORD, exc.reason, entry.index)
    return stored


def _name_bad_leaf(index: int, found_at: int | None, report: AuditReport) -> None:
    if found_at is not None and found_at != index:
        detail = f"record {index} holds the record logged at index {found_at}"
        report.add(Finding.REORDERED, detail, index)
    else:
        report.add(Finding.TAMPERED_RECORD, f"record {index} does not hash to its leaf hash", index)


def _root_detail(tree: MerkleTree, head: TreeHead, earlier: Iterable[TreeHead]) -> str:
    good = [h.size for h in earlier if h.size <= tree.size and tree.root(h.size) == h.root]
    bad = [h.size for h in earlier if h.size <= tree.size and tree.root(h.size) != h.root]
    after = max(good, default=0)
    before = min([s for s in bad if s > after] or [head.size])
    return (
        f"the records do not produce the signed root of size {head.size}: "
        f"a record between index {after} and {before - 1} was changed, moved or replaced"
    )


def _check_earlier(
    tree: MerkleTree, head: TreeHead, earlier: TreeHead, key: PublicKey, report: AuditReport
) -> None:
    if not earlier.verify(key):
        report.add(Finding.BAD_SIGNATURE, f"earlier tree head of size {earlier.size} is not signed")
        return
    if earlier.size > head.size:
        report.add(
            Finding.TRUNCATED,
            f"the log signed size {earlier.size} before but now signs size {head.size}",
        )
    elif earlier.size <= tree.size and tree.root(earlier.size) != earlier.root:
        report.add(
            Finding.FORKED,
            f"the log's first {earlier.size} records differ from those it signed earlier",
        )


TIMELINE_POINTS = 1500


def _record_events(
    entries: Sequence[Entry], flagged: Iterable[int | None] = ()
) -> list[TimelineEvent]:
    """Timeline points for the report: every record of a small log; for a large one an even
    sample plus every record named in a discrepancy."""
    step = max(1, len(entries) // TIMELINE_POINTS)
    chosen = {i for i in range(0, len(entries), step)}
    chosen |= {i for i in flagged if i is not None and 0 <= i < len(entries)}
    events = []
    for entry in (entries[i] for i in sorted(chosen)):
        try:
            doc = json.loads(entry.data)
            when = _parse_ms(doc.get("time", ""))
        except (ValueError, AttributeError):
            continue
        label = f"{doc.get('kind', '')} {doc.get('action', '')} {doc.get('decision', '')}".strip()
        events.append(TimelineEvent(when, "record", label, entry.index))
    return events


def _parse_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


# -- two heads ----------------------------------------------------------------------------------


def check_heads(
    first: TreeHead, second: TreeHead, proof: Sequence[bytes], public_key: PublicKey
) -> AuditReport:
    """RFC 9162 §2.1.4.2: is ``second`` an append-only extension of ``first``?"""
    report = AuditReport("tree heads", checks=["signatures", "consistency"], head=second)
    for head in (first, second):
        if not head.verify(public_key):
            report.add(
                Finding.BAD_SIGNATURE, f"tree head of size {head.size} is not validly signed"
            )
    if second.size < first.size:
        report.add(
            Finding.TRUNCATED, f"the log shrank from size {first.size} to size {second.size}"
        )
    elif first.size == second.size and first.root != second.root:
        report.add(Finding.FORKED, f"two different roots signed for size {first.size}")
    elif not verify_consistency(first.size, second.size, proof, first.root, second.root):
        report.add(
            Finding.FORKED,
            f"size {second.size} does not extend size {first.size}: the log was rewritten",
        )
    return report


# -- two parties --------------------------------------------------------------------------------


def compare_parties(
    agreement_id: str,
    provider_entries: Sequence[Entry],
    consumer_entries: Sequence[Entry],
    receipts: Sequence[Receipt],
    provider_key: PublicKey,
    consumer_key: PublicKey,
    *,
    provider_did: str | None = None,
    consumer_did: str | None = None,
    key_of: Callable[[str], PublicKey | None] | None = None,
) -> AuditReport:
    """Do both parties hold the same canonical records about ``agreement_id``, each backed by a
    countersigned receipt that matches the provider's log?

    Given the parties' DIDs (``provider_did``, ``consumer_did``) it also checks that nobody's
    evidence was written by anyone else: every record names one of the two as its author, and a
    consumer's record in the provider's log is signed by the consumer (``key_of``: key id →
    public key; by default the consumer's tree-head key for the consumer's key ids)."""
    report = AuditReport(f"agreement {agreement_id}", checks=["records match", "receipts"])
    if provider_did is not None and consumer_did is not None:
        _check_authors(
            agreement_id,
            provider_entries,
            consumer_entries,
            provider_did,
            consumer_did,
            report,
            key_of or _party_keys(consumer_did, consumer_key),
        )
    provider = {leaf_hash(e.data): e for e in provider_entries}
    consumer = {leaf_hash(e.data): e for e in consumer_entries}
    only_p = [e for h, e in provider.items() if h not in consumer]
    only_c = [e for h, e in consumer.items() if h not in provider]
    for p, c in zip(only_p, only_c, strict=False):
        report.add(Finding.RECORD_MISMATCH, _field_diff(p, c), p.index, agreement_id)
    for p in only_p[len(only_c) :]:
        report.add(
            Finding.MISSING_RECORD,
            f"provider record {p.index} is absent from the consumer's log",
            p.index,
            agreement_id,
        )
    for c in only_c[len(only_p) :]:
        report.add(
            Finding.MISSING_RECORD,
            f"consumer record {c.index} is absent from the provider's log",
            None,
            agreement_id,
        )
    _check_receipts(agreement_id, provider_entries, receipts, provider_key, consumer_key, report)
    report.records_checked = len(provider_entries) + len(consumer_entries)
    report.timeline += _record_events(provider_entries)
    return report


def _party_keys(consumer: str, consumer_key: PublicKey) -> Callable[[str], PublicKey | None]:
    return lambda kid: consumer_key if kid.split("#", 1)[0] == consumer else None


def _check_authors(
    agreement_id: str,
    provider_entries: Sequence[Entry],
    consumer_entries: Sequence[Entry],
    provider: str,
    consumer: str,
    report: AuditReport,
    key_of: Callable[[str], PublicKey | None],
) -> None:
    """Each log holds its owner's records and the other party's statements, nothing else; the
    consumer's statements in the provider's log carry its signature (the provider's in the
    consumer's log are attested by the receipts checked below)."""
    report.checks.append("authors")
    for owner, entries, who in (
        (provider, provider_entries, "provider"),
        (consumer, consumer_entries, "consumer"),
    ):
        authorship = Authorship(owner)
        for entry in entries:
            try:
                record = Record.from_canonical(entry.data)
            except RecordError:
                continue  # named by the record comparison and the log's own audit
            author = record.author
            if not author:
                authorship.unattributed.append(entry.index)
                continue
            if author == owner:
                authorship.own.append(entry.index)
                continue
            authorship.statements.setdefault(author, []).append(entry.index)
            if author not in (provider, consumer):
                report.add(
                    Finding.BAD_STATEMENT,
                    f"{who} record {entry.index} is authored by {author}, not a party",
                    entry.index,
                    agreement_id,
                )
            elif who == "provider":  # the consumer's word in the provider's log: signed
                problem = statement_problem(record, key_of)
                if problem is None:
                    authorship.signed.append(entry.index)
                else:
                    authorship.unverified[entry.index] = problem
                    report.add(
                        Finding.BAD_STATEMENT,
                        f"provider record {entry.index} passes for the consumer's statement: "
                        + problem,
                        entry.index,
                        agreement_id,
                    )
            elif record.signature is None:
                authorship.unsigned.append(entry.index)
        report.authorship.append(authorship)


def _check_receipts(
    agreement_id: str,
    provider_entries: Sequence[Entry],
    receipts: Sequence[Receipt],
    provider_key: PublicKey,
    consumer_key: PublicKey,
    report: AuditReport,
) -> None:
    by_index = {e.index: e for e in provider_entries}
    index_of = {leaf_hash(e.data): e.index for e in provider_entries}
    covered: set[int] = set()
    checked = VerifiedSignatures()
    for receipt in receipts:
        for problem in receipt_problems(receipt, provider_key, consumer_key, checked):
            kind = (
                Finding.MISSING_COUNTERSIGNATURE
                if problem == "countersignature missing"
                else Finding.BAD_RECEIPT
            )
            report.add(
                kind, f"receipt for index {receipt.index}: {problem}", receipt.index, agreement_id
            )
        entry = by_index.get(receipt.index)
        if entry is not None and leaf_hash(entry.data) == receipt.leaf_hash:
            covered.add(receipt.index)
        elif receipt.leaf_hash in index_of:
            moved = index_of[receipt.leaf_hash]
            covered.add(moved)
            report.add(
                Finding.REORDERED,
                f"receipted record {receipt.index} now sits at index {moved}",
                receipt.index,
                agreement_id,
            )
        elif entry is not None:
            report.add(
                Finding.TAMPERED_RECORD,
                f"provider record {receipt.index} differs from the one the consumer countersigned",
                receipt.index,
                agreement_id,
            )
        else:
            report.add(
                Finding.MISSING_RECORD,
                f"the provider's log hides the receipted record {receipt.index}",
                receipt.index,
                agreement_id,
            )
    for entry in provider_entries:
        if entry.index not in covered:
            report.add(
                Finding.MISSING_COUNTERSIGNATURE,
                f"provider record {entry.index} has no countersigned receipt",
                entry.index,
                agreement_id,
            )


def _field_diff(p: Entry, c: Entry) -> str:
    try:
        pd, cd = json.loads(p.data), json.loads(c.data)
    except ValueError:
        return f"provider record {p.index} and consumer record {c.index} differ"
    if not isinstance(pd, dict) or not isinstance(cd, dict):
        return f"provider record {p.index} and consumer record {c.index} differ"
    fields = sorted(k for k in set(pd) | set(cd) if pd.get(k) != cd.get(k))
    return f"provider record {p.index} and consumer record {c.index} differ in " + ", ".join(fields)


# -- anchors ------------------------------------------------------------------------------------


def check_anchors(
    chain: Sequence[ChainAnchor],
    root_at: Callable[[int], bytes],
    log_size: int,
    *,
    claimed: Sequence[AnchorRow] = (),
    sender: str | None = None,
    subject: str = "anchors",
) -> AuditReport:
    """Every anchor on chain must hold the log's root at the anchored size; every anchor the log
    claims must be on chain. ``root_at(size)`` is the root of the audited log's first leaves."""
    report = AuditReport(subject, checks=["anchors"])
    for a in chain:
        report.timeline.append(TimelineEvent(a.timestamp, "anchor", f"anchor size {a.size}"))
        if sender is not None and a.sender.lower() != sender.lower():
            report.add(Finding.ANCHOR_MISMATCH, f"anchor {a.tx_hash} was sent by {a.sender}")
        if a.size > log_size:
            report.add(
                Finding.TRUNCATED,
                f"size {a.size} was anchored in block {a.block_number} "
                f"but the log holds {log_size}",
            )
        elif _root(root_at, a.size) != a.root:
            report.add(
                Finding.ANCHOR_MISMATCH,
                f"anchor in block {a.block_number} holds a root that the log's first {a.size} "
                "records do not produce",
            )
    on_chain = {(a.tx_hash.lower(), a.size, a.root) for a in chain}
    for row in claimed:
        if (row.tx_hash.lower(), row.size, row.root) not in on_chain:
            report.add(
                Finding.ANCHOR_MISSING,
                f"anchor of size {row.size} claimed in {row.tx_hash} is not on chain",
            )
    return report


def _root(root_at: Callable[[int], bytes], size: int) -> bytes | None:
    try:
        return root_at(size)
    except ProofError:
        return None


async def audit_ledger(
    ledger: Ledger,
    public_key: PublicKey,
    *,
    anchorer: Anchorer | None = None,
    earlier_heads: Iterable[TreeHead] | None = None,
    check_canonical: bool = False,
) -> AuditReport:
    """Audit a log held in a local database: records, signed heads it issued, and its anchors."""
    head = await ledger.tree_head()
    entries = await ledger.entries(0, head.size)
    heads = await ledger.store.tree_heads() if earlier_heads is None else list(earlier_heads)
    report = verify_log(
        entries,
        head,
        public_key,
        earlier_heads=[h for h in heads if h != head],
        check_canonical=check_canonical,
        subject=f"log {ledger.log_id.hex()[:16]}",
    )
    if anchorer is not None:
        tree = MerkleTree([e.leaf_hash for e in entries])
        chain = await anchorer.anchored_async(ledger.log_id)
        report.merge(check_anchors(chain, tree.root, tree.size, claimed=await ledger.anchors()))
    return report
