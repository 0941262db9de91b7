"""Durable, group-committed appends on SQLite and PostgreSQL; replicas never fork the log."""

from __future__ import annotations

import asyncio

import pytest

from ledger import api
from ledger.errors import ProofError, StoreError
from ledger.log import Ledger
from ledger.merkle import root_of, verify_consistency, verify_inclusion
from ledger.receipts import countersign
from ledger.records import Record
from ledger.signing import KeySigner
from ledger.store import AnchorRow, sqlite_engine

from .conftest import Db


def rec(i: int, agreement: str = "urn:uuid:agr-1") -> Record:
    return Record(
        provider="did:web:city.example",
        consumer="did:web:company.example",
        agreement_id=agreement,
        action="use",
        decision="permit" if i % 5 else "deny",
        request_hash=f"{i:064x}",
        response_hash=f"{i * 7:064x}",
        time=f"2026-11-21T12:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
    )


async def test_concurrent_appends_are_contiguous_and_durable(
    db: Db, provider_signer: KeySigner
) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    results = await asyncio.gather(*(ledger.append(rec(i)) for i in range(500)))
    assert sorted(r.index for r in results) == list(range(500))
    head = await ledger.tree_head()
    assert head.size == 500 and head.verify(provider_signer.public_key())
    await ledger.close()

    reopened = await Ledger.open(db.engine, provider_signer, prefix=db.prefix, create=False)
    entries = await reopened.entries()
    assert [e.index for e in entries] == list(range(500))
    assert root_of([e.leaf_hash for e in entries]) == head.root == reopened.tree.root()
    by_index = {r.index: r.leaf_hash for r in results}
    assert all(by_index[e.index] == e.leaf_hash for e in entries)
    await reopened.close()


async def test_api_documents(db: Db, provider_signer: KeySigner) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    for i in range(20):
        await ledger.append(rec(i, f"urn:uuid:agr-{i % 3}"))
    head = await api.tree_head_json(ledger)
    assert set(head) == {"size", "root", "timestamp", "signature", "kid"} and head["size"] == 20
    doc = await api.record_json(ledger, 4)
    assert Record.from_json(doc["record"]) == rec(4, "urn:uuid:agr-1")
    proof = await api.inclusion_proof_json(ledger, 4, 20)
    hashes = [bytes.fromhex(h) for h in proof["hashes"]]
    leaf = bytes.fromhex(doc["leaf_hash"])
    assert verify_inclusion(leaf, 4, 20, hashes, bytes.fromhex(head["root"]))
    consistency = await api.consistency_proof_json(ledger, 7, 20)
    first_root = ledger.tree.root(7)
    hashes = [bytes.fromhex(h) for h in consistency["hashes"]]
    assert verify_consistency(7, 20, hashes, first_root, bytes.fromhex(head["root"]))
    by_agreement = await api.records_by_agreement_json(ledger, "urn:uuid:agr-2")
    assert [r["index"] for r in by_agreement["records"]] == [2, 5, 8, 11, 14, 17]
    assert (await api.anchors_json(ledger))["anchors"] == []
    ranged = await api.records_range_json(ledger, 18, 500)
    assert [r["index"] for r in ranged["records"]] == [18, 19]
    with pytest.raises(ProofError):
        await api.records_range_json(ledger, 5, 5)
    with pytest.raises(ProofError):
        await api.inclusion_proof_json(ledger, 20, 20)
    with pytest.raises(ProofError):
        await api.consistency_proof_json(ledger, 5, 21)
    with pytest.raises(ProofError):
        await api.record_json(ledger, 99)
    await ledger.close()


async def test_replicas_sharing_a_database_do_not_fork(db: Db, provider_signer: KeySigner) -> None:
    """Two ledgers (as in two connector replicas) append to the same tables at once."""
    if db.kind == "sqlite":
        other_engine = sqlite_engine(db.url.removeprefix("sqlite+aiosqlite:///"))
    else:
        from sqlalchemy.ext.asyncio import create_async_engine

        other_engine = create_async_engine(db.url)
    a = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    b = await Ledger.open(other_engine, provider_signer, prefix=db.prefix, create=False)
    ra, rb = await asyncio.gather(
        asyncio.gather(*(a.append(rec(i)) for i in range(300))),
        asyncio.gather(*(b.append(rec(1000 + i)) for i in range(300))),
    )
    indices = sorted([r.index for r in ra] + [r.index for r in rb])
    assert indices == list(range(600))
    head_a, head_b = await a.tree_head(), await b.tree_head()
    assert (head_a.size, head_a.root) == (head_b.size, head_b.root)
    entries = await a.entries()
    assert root_of([e.leaf_hash for e in entries]) == head_a.root
    for ledger in (a, b):
        await ledger.close()
    await other_engine.dispose()


async def test_closed_ledger_refuses_appends(db: Db, provider_signer: KeySigner) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    await ledger.append(rec(0))
    await ledger.close()
    with pytest.raises(StoreError):
        await ledger.append(rec(1))


async def test_failed_commit_reaches_every_waiter(db: Db, provider_signer: KeySigner) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    await ledger.append(rec(0))
    async with db.engine.begin() as conn:
        await conn.execute(ledger.store.tables.head.delete())
    results = await asyncio.gather(
        *(ledger.append(rec(i)) for i in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, StoreError) for r in results)
    assert ledger.size == 1
    await ledger.close()


async def test_schema_creation_is_idempotent_and_race_safe(
    db: Db, provider_signer: KeySigner
) -> None:
    from ledger.store import create_schema, drop_schema

    prefix = db.prefix + "race_"
    try:
        await asyncio.gather(*(create_schema(db.engine, prefix) for _ in range(4)))
        ledgers = await asyncio.gather(
            *(Ledger.open(db.engine, provider_signer, prefix=prefix) for _ in range(2))
        )
        await asyncio.gather(*(lg.append(rec(i)) for i, lg in enumerate(ledgers)))
        assert await ledgers[0].store.size() == 2
        for ledger in ledgers:
            await ledger.close()
    finally:
        await drop_schema(db.engine, prefix)


async def test_heads_read_while_appending_keep_the_tree_exact(
    db: Db, provider_signer: KeySigner
) -> None:
    """sync() from tree-head requests may load a batch before its writer mirrors it."""
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)

    async def read_heads() -> None:
        for _ in range(40):
            await ledger.tree_head()
            await asyncio.sleep(0)

    await asyncio.gather(read_heads(), *(ledger.append(rec(i)) for i in range(400)), read_heads())
    entries = await ledger.entries()
    assert ledger.tree.size == len(entries) == 400
    assert ledger.tree.root() == root_of([e.leaf_hash for e in entries])
    await ledger.close()


async def test_a_batch_of_receipts_is_kept_together(db: Db, provider_signer: KeySigner) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    for i in range(6):
        await ledger.append(rec(i, f"urn:uuid:agr-{i % 2}"))
    issued = [await ledger.receipt(i, f"urn:uuid:agr-{i % 2}") for i in range(6)]
    await ledger.keep_receipts(issued)
    await ledger.keep_receipts([])  # nothing to keep: no transaction, no error
    assert await ledger.receipts() == issued
    assert [r.index for r in await ledger.receipts("urn:uuid:agr-1")] == [1, 3, 5]
    await ledger.close()


async def test_heads_anchors_and_receipts_read_back_as_written(
    db: Db, provider_signer: KeySigner
) -> None:
    """On a SQLite file these writes go through the writer process's own connection."""
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    for i in range(4):
        await ledger.append(rec(i))
    head = await ledger.tree_head()
    assert await ledger.store.size() == 4
    assert await ledger.store.tree_heads() == [head] == [await ledger.store.latest_tree_head()]
    anchor = AnchorRow(
        head.size, head.root, head.timestamp, ledger.log_id, 1337, "0x" + "ab" * 20, "0x1", 7
    )
    await ledger.store.put_anchor(anchor)
    assert await ledger.anchors() == [anchor]
    issued = [await ledger.receipt(i, "urn:uuid:agr-1") for i in range(4)]
    await ledger.keep_receipts(issued)
    assert await ledger.receipts("urn:uuid:agr-1") == issued
    await ledger.close()


async def test_a_failed_write_is_a_store_error(db: Db, provider_signer: KeySigner) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    await ledger.append(rec(0))
    issued = await ledger.receipt(0, "urn:uuid:agr-1")
    async with db.engine.begin() as conn:
        await conn.run_sync(ledger.store.tables.receipts.drop)
        await conn.run_sync(ledger.store.tables.tree_heads.drop)
    with pytest.raises(StoreError):
        await ledger.keep_receipts([issued])
    with pytest.raises(StoreError):
        await ledger.store.put_tree_head(issued.tree_head)
    await ledger.close()


async def test_append_data_many_commits_in_order(db: Db, provider_signer: KeySigner) -> None:
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    assert await ledger.append_data_many([]) == []
    records = [rec(i, f"urn:uuid:agr-{i % 2}") for i in range(5)]
    done = await ledger.append_data_many([(r.canonical(), r.agreement_id) for r in records])
    assert [d.index for d in done] == [0, 1, 2, 3, 4]
    assert [d.leaf_hash for d in done] == [r.leaf_hash() for r in records]
    assert [e.data for e in await ledger.entries()] == [r.canonical() for r in records]
    assert [d.index for d in await ledger.append_many([rec(5), rec(6)])] == [5, 6]
    # a larger batch keeps its order too
    more = [rec(i, "urn:uuid:agr-1") for i in range(7, 7 + 150)]
    done = await ledger.append_many(more)
    assert [d.index for d in done] == list(range(7, 157))
    stored = await ledger.entries(7, 157)
    expected = [(i, r.canonical()) for i, r in enumerate(more, 7)]
    assert [(e.index, e.data) for e in stored] == expected
    async with db.engine.begin() as conn:  # the next commit fails: every item learns
        await conn.execute(ledger.store.tables.head.delete())
    with pytest.raises(StoreError):
        await ledger.append_data_many([(rec(7).canonical(), "urn:uuid:agr-1")] * 3)
    await ledger.close()
    with pytest.raises(StoreError):
        await ledger.append_data_many([(rec(8).canonical(), "urn:uuid:agr-1")])


async def test_look_ups_by_content_answer_from_the_database(
    db: Db, provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    """What the receipt exchange asks instead of remembering every leaf: which records of an
    agreement the log holds (first index of each), and which indices have a countersignature."""
    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix)
    records = [rec(i, f"urn:uuid:agr-{i % 2}") for i in range(6)]
    for r in records:
        await ledger.append(r)
    await ledger.append(records[2])  # the same bytes again: the first index answers
    stranger = rec(99).leaf_hash()
    wanted = [r.leaf_hash() for r in records] + [stranger]
    found = await ledger.store.indices_of("urn:uuid:agr-0", wanted)
    assert found == {records[i].leaf_hash(): i for i in (0, 2, 4)}
    assert await ledger.store.indices_of("urn:uuid:agr-0", []) == {}
    many = await ledger.store.indices_of("urn:uuid:agr-1", [stranger] * 600 + wanted)
    assert sorted(many.values()) == [1, 3, 5]
    issued = [await ledger.receipt(i, "urn:uuid:agr-1") for i in (1, 3)]
    signed = countersign(issued[1], consumer_signer, provider_signer.public_key())
    await ledger.keep_receipts([issued[0], signed])  # only the second is countersigned
    assert await ledger.store.countersigned("urn:uuid:agr-1", range(1000)) == {3}
    assert await ledger.store.countersigned("urn:uuid:agr-0", [3]) == set()
    await ledger.close()
