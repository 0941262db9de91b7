"""Each kind of cheating is detected and named: altered bytes, reordering, truncation, forks,
missing countersignatures, records the parties disagree on."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from ledger.audit import (
    AuditReport,
    Finding,
    audit_ledger,
    check_heads,
    compare_parties,
    verify_log,
)
from ledger.log import Ledger
from ledger.merkle import MerkleTree, leaf_hash
from ledger.receipts import Receipt, countersign
from ledger.records import Record, sha256_hex
from ledger.report import render_html
from ledger.signing import KeySigner
from ledger.store import Entry
from ledger.treehead import sign_tree_head

from .conftest import scratch_engine

AGREEMENTS = ["urn:uuid:agr-a", "urn:uuid:agr-b", "urn:uuid:agr-c"]


def event(i: int) -> Record:
    return Record(
        provider="did:web:city.example",
        consumer="did:web:company.example",
        agreement_id=AGREEMENTS[i % 3],
        action="use" if i % 4 else "transfer",
        decision="deny" if i % 7 == 3 else "permit",
        request_hash=sha256_hex(f"request {i}".encode()),
        response_hash=sha256_hex(f"response {i}".encode()),
        time=f"2026-11-21T10:{i:02d}:00.000Z",
        kind="access" if i % 4 else "negotiation",
        details={"n": i},
    )


@dataclass
class Parties:
    engine: AsyncEngine
    provider: Ledger
    consumer: Ledger
    receipts: list[Receipt]
    provider_signer: KeySigner
    consumer_signer: KeySigner

    async def provider_entries(self, agreement: str) -> list[Entry]:
        indices = await self.provider.store.indices_for_agreement(agreement)
        return [await self.provider.entry(i) for i in indices]

    async def consumer_entries(self, agreement: str) -> list[Entry]:
        indices = await self.consumer.store.indices_for_agreement(agreement)
        return [await self.consumer.entry(i) for i in indices]

    def compare(
        self, agreement: str, p: list[Entry], c: list[Entry], rs: list[Receipt]
    ) -> AuditReport:
        keys = (self.provider_signer.public_key(), self.consumer_signer.public_key())
        return compare_parties(agreement, p, c, rs, *keys)


@pytest.fixture
async def parties(
    tmp_path: Path, provider_signer: KeySigner, consumer_signer: KeySigner
) -> AsyncIterator[Parties]:
    """30 events logged by both sides, each with a receipt the consumer countersigned."""
    engine = scratch_engine(tmp_path / "parties.db")
    provider = await Ledger.open(engine, provider_signer, prefix="p_")
    consumer = await Ledger.open(engine, consumer_signer, prefix="c_")
    receipts = []
    for i in range(30):
        r = event(i)
        done = await provider.append(r)
        receipt = await provider.receipt(done.index, r.agreement_id)
        signed = countersign(receipt, consumer_signer, provider_signer.public_key())
        await consumer.append(r)
        await provider.keep_receipt(signed)
        await consumer.keep_receipt(signed)
        receipts.append(signed)
    yield Parties(engine, provider, consumer, receipts, provider_signer, consumer_signer)
    await provider.close()
    await consumer.close()
    await engine.dispose()


async def test_honest_log_passes_every_check(parties: Parties) -> None:
    key = parties.provider_signer.public_key()
    report = await audit_ledger(parties.provider, key, check_canonical=True)
    assert report.ok, report.discrepancies
    assert report.records_checked == 30
    for agreement in AGREEMENTS:
        p, c = await parties.provider_entries(agreement), await parties.consumer_entries(agreement)
        receipts = await parties.consumer.receipts(agreement)
        assert parties.compare(agreement, p, c, receipts).ok
    html = render_html(report)
    assert "No discrepancy found" in html and "<svg" in html


async def test_every_byte_of_every_record_is_protected(parties: Parties) -> None:
    key = parties.provider_signer.public_key()
    head = await parties.provider.tree_head()
    entries = await parties.provider.entries()
    for position, entry in enumerate(entries):
        # every byte of the first, second, middle and last record; every 11th of the others
        step = 1 if position in (0, 1, 15, len(entries) - 1) else 11
        for offset in range(position % step, len(entry.data), step):
            data = bytearray(entry.data)
            data[offset] ^= 0x20
            tampered = [*entries]
            tampered[position] = dataclasses.replace(entry, data=bytes(data))
            report = verify_log(tampered, head, key)
            assert [(d.kind, d.index) for d in report.discrepancies][:1] == [
                (Finding.TAMPERED_RECORD, entry.index)
            ]


async def test_tampering_in_the_database_is_named(parties: Parties) -> None:
    records = parties.provider.store.tables.records
    async with parties.engine.begin() as conn:
        stored = await parties.provider.entry(12)
        altered = stored.data.replace(b'"permit"', b'"deny"').replace(b'"deny"', b'"permit"', 0)
        await conn.execute(update(records).where(records.c.idx == 12).values(data=altered))
    report = await audit_ledger(parties.provider, parties.provider_signer.public_key())
    assert report.kinds() == {Finding.TAMPERED_RECORD}
    assert report.discrepancies[0].index == 12
    html = render_html(report)
    assert "tampered-record" in html and "#c62828" in html  # flagged in the timeline


async def test_rewritten_leaf_hashes_still_caught(parties: Parties) -> None:
    """The cheat also rewrites the leaf hash column: the signed roots, earlier heads and the
    consumer's countersigned receipts still catch it."""
    key = parties.provider_signer.public_key()
    head = await parties.provider.tree_head()
    entries = await parties.provider.entries()
    forged = Record.from_canonical(entries[4].data)
    forged = dataclasses.replace(forged, decision="deny")
    entries[4] = Entry(4, forged.canonical(), forged.leaf_hash())
    earlier = await parties.provider.store.tree_heads()
    report = verify_log(entries, head, key, earlier_heads=earlier[:-1])
    assert Finding.ROOT_MISMATCH in report.kinds() and Finding.FORKED in report.kinds()
    assert "between index 4 and 4" in next(
        d.detail for d in report.discrepancies if d.kind is Finding.ROOT_MISMATCH
    )
    agreement = forged.agreement_id
    mine = [e for e in entries if Record.from_canonical(e.data).agreement_id == agreement]
    theirs = await parties.consumer_entries(agreement)
    receipts = await parties.consumer.receipts(agreement)
    compared = parties.compare(agreement, mine, theirs, receipts)
    assert Finding.TAMPERED_RECORD in compared.kinds()
    mismatch = next(d for d in compared.discrepancies if d.kind is Finding.RECORD_MISMATCH)
    assert mismatch.detail.endswith("differ in decision")


async def test_reordering_is_named(parties: Parties) -> None:
    key = parties.provider_signer.public_key()
    head = await parties.provider.tree_head()
    entries = await parties.provider.entries()
    swapped = [*entries]
    swapped[3] = dataclasses.replace(entries[3], data=entries[9].data)
    swapped[9] = dataclasses.replace(entries[9], data=entries[3].data)
    report = verify_log(swapped, head, key)
    assert {(d.kind, d.index) for d in report.discrepancies} >= {
        (Finding.REORDERED, 3),
        (Finding.REORDERED, 9),
    }
    # with leaf hashes rewritten too, the consumer's receipts name the move
    moved = [*entries]
    moved[3] = Entry(3, entries[6].data, entries[6].leaf_hash)
    moved[6] = Entry(6, entries[3].data, entries[3].leaf_hash)
    assert Finding.ROOT_MISMATCH in verify_log(moved, head, key).kinds()
    agreement = AGREEMENTS[0]
    mine = [e for e in moved if e.index % 3 == 0]
    receipts = await parties.consumer.receipts(agreement)
    compared = parties.compare(agreement, mine, await parties.consumer_entries(agreement), receipts)
    assert {(d.kind, d.index) for d in compared.discrepancies} >= {
        (Finding.REORDERED, 3),
        (Finding.REORDERED, 6),
    }


async def test_truncation_is_named(parties: Parties) -> None:
    key = parties.provider_signer.public_key()
    head = await parties.provider.tree_head()
    entries = await parties.provider.entries()
    report = verify_log(entries[:25], head, key)
    assert report.kinds() == {Finding.TRUNCATED}
    # re-signing a shorter head does not help: the earlier head (or an anchor) shows it
    short = sign_tree_head(
        parties.provider_signer, 25, MerkleTree([e.leaf_hash for e in entries[:25]]).root()
    )
    report = verify_log(entries[:25], short, key, earlier_heads=[head])
    assert report.kinds() == {Finding.TRUNCATED}
    assert check_heads(head, short, [], key).kinds() == {Finding.TRUNCATED}


async def test_forked_log_is_named(parties: Parties) -> None:
    """The provider shows one history to one auditor and another to a second one."""
    key = parties.provider_signer.public_key()
    entries = await parties.provider.entries()
    honest = MerkleTree([e.leaf_hash for e in entries])
    fork = MerkleTree([e.leaf_hash for e in entries[:20]] + [leaf_hash(b"other")] * 10)
    head_honest = sign_tree_head(parties.provider_signer, 30, honest.root())
    head_fork = sign_tree_head(parties.provider_signer, 30, fork.root())
    assert check_heads(head_honest, head_fork, [], key).kinds() == {Finding.FORKED}
    older = sign_tree_head(parties.provider_signer, 25, honest.root(25))
    proof = fork.consistency_proof(25, 30)
    assert check_heads(older, head_fork, proof, key).kinds() == {Finding.FORKED}
    assert check_heads(older, head_honest, honest.consistency_proof(25, 30), key).ok
    assert (
        Finding.BAD_SIGNATURE
        in check_heads(
            older,
            dataclasses.replace(head_honest, timestamp=1),
            honest.consistency_proof(25, 30),
            key,
        ).kinds()
    )


async def test_missing_countersignature_is_named(parties: Parties) -> None:
    agreement = AGREEMENTS[1]
    p, c = await parties.provider_entries(agreement), await parties.consumer_entries(agreement)
    receipts = await parties.provider.receipts(agreement)
    unsigned = dataclasses.replace(receipts[2], countersignature=None, countersigner_kid=None)
    report = parties.compare(agreement, p, c, [*receipts[:2], unsigned, *receipts[3:]])
    assert report.kinds() == {Finding.MISSING_COUNTERSIGNATURE}
    assert report.discrepancies[0].index == receipts[2].index
    report = parties.compare(agreement, p, c, receipts[1:])  # a record without any receipt
    assert report.kinds() == {Finding.MISSING_COUNTERSIGNATURE}
    assert report.discrepancies[0].index == receipts[0].index
    bad = dataclasses.replace(receipts[0], countersignature=b"\x00" * 64)
    assert Finding.BAD_RECEIPT in parties.compare(agreement, p, c, [bad, *receipts[1:]]).kinds()


async def test_hidden_records_are_named(parties: Parties) -> None:
    agreement = AGREEMENTS[2]
    p, c = await parties.provider_entries(agreement), await parties.consumer_entries(agreement)
    receipts = await parties.consumer.receipts(agreement)
    report = parties.compare(agreement, p[:-1], c, receipts)  # the provider hides its last one
    assert Finding.MISSING_RECORD in report.kinds()
    hidden = next(d for d in report.discrepancies if d.kind is Finding.MISSING_RECORD)
    assert hidden.agreement_id == agreement
    report = parties.compare(agreement, p, c[1:], receipts)  # the consumer hides one
    assert report.kinds() == {Finding.MISSING_RECORD}


async def test_report_names_everything(parties: Parties) -> None:
    report = AuditReport("combined")
    for kind in Finding:
        report.add(kind, f"example of {kind}", 1)
    html = render_html(report)
    for kind in Finding:
        assert str(kind) in html
    assert report.to_json()["ok"] is False


def test_authorship_tells_the_owners_records_from_others_statements(
    provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    from ledger.audit import authors_of
    from ledger.statements import sign_statement

    city, company = "did:web:city.example", "did:web:company.example"

    def rec(i: int, **kw: Any) -> Record:
        return Record(city, company, "urn:uuid:a", "use", "permit", f"{i:064x}", **kw)

    records = [
        rec(0, author=city),
        sign_statement(rec(1, author=company), consumer_signer),
        rec(2),  # logged before authors were recorded
        rec(3, author=company),  # passed off as the company's word, unsigned
        sign_statement(rec(4, author=company), provider_signer),  # the city's key
    ]
    entries = [Entry(i, r.canonical(), leaf_hash(r.canonical())) for i, r in enumerate(records)]
    keys = {consumer_signer.kid: consumer_signer.public_key()}
    report = authors_of(entries, city, keys.get)
    (who,) = report.authorship
    assert who.own == [0] and who.unattributed == [2]
    assert who.statements == {company: [1, 3, 4]}
    assert who.signed == [1] and who.unsigned == [3]
    assert [(d.kind, d.index) for d in report.discrepancies] == [(Finding.BAD_STATEMENT, 4)]
    assert "not a key of" in report.discrepancies[0].detail
    assert report.to_json()["authorship"][0]["statements"] == {company: 3}
