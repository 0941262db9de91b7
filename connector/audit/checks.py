"""The audits behind ``agora audit``: the ledger library's checks run against remote connectors.

Everything read from a connector is only data to check: keys come from its DID document, roots
are recomputed from the records, proofs are verified locally, anchors are read from the chain.
Each function returns an :class:`Outcome` (a report plus plain-language notes about what could
not be checked); it raises :class:`AuditFailure` only when the audit could not run at all.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from connector.audit.access import Access, AccessError, session_for
from connector.audit.party import Party, PartyError, author_keys, party_at
from ledger.audit import AuditReport, Finding, check_anchors, check_heads
from ledger.client import PREFIX, LedgerClient, audit_agreement, audit_remote
from ledger.errors import LedgerError
from ledger.merkle import LEAF_PREFIX, MerkleTree, verify_inclusion
from ledger.store import Entry
from ledger.treehead import TreeHead

#: a read-only anchorer needs some "from" address; it never sends anything
NO_ACCOUNT = "0x0000000000000000000000000000000000000000"
MAX_RECEIPT_HEADS = 32


class AuditFailure(Exception):
    """The audit could not run (unreachable connector or chain, refused credentials)."""


@dataclass
class Outcome:
    report: AuditReport
    notes: list[str] = field(default_factory=list)
    head: TreeHead | None = None


@dataclass
class Ledgers:
    """A connector under audit: who it is and an authenticated client for its ledger API."""

    party: Party
    client: LedgerClient
    http: aiohttp.ClientSession

    async def anchors_document(self) -> dict[str, Any]:
        url = self.party.url + PREFIX + "/anchors"
        async with self.http.get(url) as resp:
            if resp.status != 200:
                raise AuditFailure(f"GET {url} answered {resp.status}")
            doc = await resp.json(content_type=None)
        if not isinstance(doc, dict):
            raise AuditFailure(f"GET {url} did not answer a JSON object")
        return doc

    def key_or_finding(self, head: TreeHead, report: AuditReport) -> Any:
        try:
            return self.party.key(head.kid)
        except PartyError as exc:
            report.add(Finding.BAD_SIGNATURE, str(exc))
            return None


@asynccontextmanager
async def opened(url: str, access: Access) -> AsyncIterator[Ledgers]:
    """Resolve the connector's DID and open a client that authenticates every request."""
    try:
        party = await party_at(url)
    except PartyError as exc:
        raise AuditFailure(str(exc)) from None
    async with aiohttp.ClientSession() as plain:
        async with session_for(access, party.did, plain) as http:
            client = LedgerClient(party.url, http)
            try:
                yield Ledgers(party, client, http)
            except (LedgerError, AccessError, aiohttp.ClientError, TimeoutError) as exc:
                reason = exc.reason if isinstance(exc, LedgerError) else str(exc)
                raise AuditFailure(reason) from None


def _anchorer(chain: str, contract: str) -> Any:
    from ledger.anchor import Anchorer, http_web3

    try:
        return Anchorer(http_web3(chain), contract, account=NO_ACCOUNT)
    except Exception as exc:  # web3 raises many kinds for a bad address or URL
        raise AuditFailure(f"cannot use the anchor contract {contract} on {chain}: {exc}") from None


async def _anchor_plan(
    ledgers: Ledgers, chain: str | None, contract: str | None, notes: list[str]
) -> Any:
    """An anchorer to read the chain with, or None with a note saying why anchors are skipped."""
    doc = await ledgers.anchors_document()
    claimed = len(doc.get("anchors", []))
    if claimed == 0:
        notes.append(_nothing_anchored(doc))
    if chain is None:
        if doc.get("chain") == "embedded":
            notes.append(
                f"anchors not checked: this connector anchors on an embedded chain inside its own "
                f"process, which cannot be read from outside ({claimed} anchors claimed)"
            )
        else:
            notes.append(f"anchors not checked: give --chain RPC_URL ({claimed} anchors claimed)")
        return None
    address = contract or doc.get("contract")
    if not address:
        raise AuditFailure("the connector names no anchor contract; give --contract ADDRESS")
    if not contract:
        notes.append(f"anchor contract {address} as the connector names it (pin with --contract)")
    return _anchorer(chain, str(address))


def _nothing_anchored(doc: dict[str, Any]) -> str:
    """Why a log has no anchor yet, from the schedule the connector publishes."""
    found = doc.get("schedule")
    schedule: dict[str, Any] = found if isinstance(found, dict) else {}
    records, seconds = schedule.get("every_records"), schedule.get("every_seconds")
    text = "nothing has been anchored yet"
    if records is not None and seconds is not None:
        text += (
            f": this connector anchors its signed head once {records} new records are logged or"
            f" {seconds:g} s have passed since the last anchor, whichever comes first ([ledger]"
            " anchor_every_records / anchor_every_seconds)"
        )
    if schedule.get("last_error"):
        text += f"; its last attempt failed: {schedule['last_error']}"
    return text


async def verify(
    url: str,
    access: Access,
    *,
    previous: TreeHead | None = None,
    chain: str | None = None,
    contract: str | None = None,
    sender: str | None = None,
    samples: int = 8,
) -> Outcome:
    """The whole log against its signed head, earlier heads, proofs and (if reachable) anchors."""
    async with opened(url, access) as ledgers:
        head = await ledgers.client.tree_head()
        report = AuditReport(ledgers.party.url, head=head)
        key = ledgers.key_or_finding(head, report)
        if key is None:
            return Outcome(report, head=head)
        notes: list[str] = [f"signing key {head.kid} from the DID document of {ledgers.party.did}"]
        anchorer = await _anchor_plan(ledgers, chain, contract, notes)

        async def statement_keys(dids: list[str]) -> dict[str, Any]:
            keys, why = await author_keys(dids, ledgers.party.url)
            notes.extend(why)
            return keys

        try:
            report = await audit_remote(
                ledgers.client,
                key,
                previous=previous,
                anchorer=anchorer,
                anchor_sender=sender,
                samples=samples,
                owner=ledgers.party.did,
                statement_keys=statement_keys,
            )
        except LedgerError as exc:  # AnchorError: the chain cannot be read
            raise AuditFailure(exc.reason) from None
        report.subject = ledgers.party.url
        for authorship in report.authorship:
            notes += authorship.describe()
        if previous is None:
            notes.append("no earlier head given (--previous): consistency over time not checked")
        return Outcome(report, notes, report.head or head)


async def consistency(
    url: str, access: Access, first: TreeHead, second: TreeHead | None = None
) -> Outcome:
    """RFC 9162 consistency between two signed heads (the second defaults to the current one)."""
    async with opened(url, access) as ledgers:
        notes = []
        if second is None:
            second = await ledgers.client.tree_head()
            notes.append(f"second head: the connector's current head (size {second.size})")
        report = AuditReport(ledgers.party.url, head=second)
        key2 = ledgers.key_or_finding(second, report)
        key1 = ledgers.key_or_finding(first, report)
        if key1 is None or key2 is None:
            return Outcome(report, notes, second)
        proof: list[bytes] = []
        if 0 < first.size < second.size:
            proof = await ledgers.client.consistency_proof(first.size, second.size)
        checked = check_heads(first, second, proof, key2)
        if first.kid != second.kid and first.verify(key1):  # the key was rotated in between
            checked.discrepancies = [
                d for d in checked.discrepancies if f"size {first.size} is not" not in d.detail
            ]
        checked.subject = ledgers.party.url
        return Outcome(checked, notes, second)


async def _included(
    ledgers: Ledgers, entries: Sequence[Entry], head: TreeHead, report: AuditReport, who: str
) -> None:
    """Each record served for the agreement is in the party's own signed log at its index."""
    for entry in entries[:200]:
        leaf = hashlib.sha256(LEAF_PREFIX + entry.data).digest()
        if entry.index >= head.size:
            report.add(
                Finding.MISSING_RECORD, f"{who} record {entry.index} is beyond its signed head"
            )
            continue
        proof = await ledgers.client.inclusion_proof(entry.index, head.size)
        if not verify_inclusion(leaf, entry.index, head.size, proof, head.root):
            report.add(
                Finding.TAMPERED_RECORD,
                f"{who} record {entry.index} as served is not the one its signed log holds",
                entry.index,
            )


async def agreement(
    provider_url: str,
    consumer_url: str,
    agreement_id: str,
    access: Access,
    consumer_access: Access | None = None,
) -> Outcome:
    """What both parties logged about one agreement matches, with countersigned receipts, and
    the provider's log still extends every head it gave the consumer in a receipt."""
    c_access = consumer_access or access
    async with opened(provider_url, access) as p, opened(consumer_url, c_access) as c:
        p_head, c_head = await p.client.tree_head(), await c.client.tree_head()
        report = AuditReport(f"agreement {agreement_id}", head=p_head)
        pk, ck = p.key_or_finding(p_head, report), c.key_or_finding(c_head, report)
        if pk is None or ck is None:
            return Outcome(report)
        for head, key, who in ((p_head, pk, "provider"), (c_head, ck, "consumer")):
            if not head.verify(key):
                report.add(Finding.BAD_SIGNATURE, f"the {who}'s tree head is not validly signed")
        documents = {p.party.did: p.party.document, c.party.did: c.party.document}

        def key_of(kid: str) -> Any:
            document = documents.get(kid.split("#", 1)[0])
            method = document.methods.get(kid) if document is not None else None
            return method.public_key if method is not None else None

        report.merge(
            await audit_agreement(
                p.client,
                c.client,
                agreement_id,
                pk,
                ck,
                provider_did=p.party.did,
                consumer_did=c.party.did,
                key_of=key_of,
            )
        )
        report.subject = f"agreement {agreement_id}"
        report.checks.append("records in each party's signed log")
        await _included(
            p, await p.client.records_for_agreement(agreement_id), p_head, report, "provider"
        )
        await _included(
            c, await c.client.records_for_agreement(agreement_id), c_head, report, "consumer"
        )
        receipts = await c.client.receipts(agreement_id)
        if not receipts and report.records_checked == 0:
            # nothing anywhere is an unknown id (a typo), not evidence of a hidden record
            raise AuditFailure(
                f"no agreement {agreement_id} in either party's log: check the id (the"
                " agreementId of GET /api/v1/agreements on either connector)"
            )
        report.checks.append("receipt heads consistent with the provider's log")
        heads = {r.tree_head for r in receipts if r.tree_head.size <= p_head.size}
        for earlier in sorted(heads, key=lambda h: h.size)[-MAX_RECEIPT_HEADS:]:
            proof = []
            if 0 < earlier.size < p_head.size:
                proof = await p.client.consistency_proof(earlier.size, p_head.size)
            report.discrepancies += check_heads(earlier, p_head, proof, pk).discrepancies
        notes = [
            f"provider {p.party.did}: {p_head.size} records; consumer {c.party.did}: "
            f"{c_head.size} records; {len(receipts)} receipts kept by the consumer"
        ]
        for authorship, who in zip(report.authorship, ("provider's", "consumer's"), strict=False):
            notes += [f"{who} log: {line}" for line in authorship.describe()]
        return Outcome(report, notes, p_head)


async def anchors(
    url: str, access: Access, chain: str, contract: str | None = None, sender: str | None = None
) -> Outcome:
    """Every anchor on chain holds the root the log's own records produce at that size."""
    async with opened(url, access) as ledgers:
        head = await ledgers.client.tree_head()
        report = AuditReport(ledgers.party.url, head=head)
        notes: list[str] = []
        anchorer = await _anchor_plan(ledgers, chain, contract, notes)
        entries = await ledgers.client.entries(head.size)
        leaves = [hashlib.sha256(LEAF_PREFIX + e.data).digest() for e in entries]
        tree = MerkleTree(leaves)
        served_id, claimed = await ledgers.client.anchors()
        expected_id = hashlib.sha256(head.kid.encode()).digest()
        if served_id != expected_id:
            report.add(
                Finding.ANCHOR_MISMATCH,
                f"the log names its anchors log id {served_id.hex()}, not {expected_id.hex()}",
            )
        try:
            on_chain = await anchorer.anchored_async(expected_id)
        except LedgerError as exc:
            raise AuditFailure(exc.reason) from None
        report.merge(check_anchors(on_chain, tree.root, tree.size, claimed=claimed, sender=sender))
        report.records_checked = len(entries)
        notes.append(f"{len(on_chain)} anchors on chain, {len(claimed)} claimed by the connector")
        if not on_chain and head.size > 0:
            report.add(Finding.ANCHOR_MISSING, "no anchor of this log is on the chain")
        return Outcome(report, notes, head)
