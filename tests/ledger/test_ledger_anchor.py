"""Anchoring tree heads on an EVM chain and checking the anchors (eth-tester and ganache)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
from web3 import Web3
from web3.types import Wei

from ledger.anchor import (
    EMBEDDED_ANCHOR_GAS,
    Anchorer,
    AnchorScheduler,
    embedded_web3,
    http_web3,
)
from ledger.audit import Finding, audit_ledger
from ledger.errors import AnchorError
from ledger.log import Ledger
from ledger.records import Record
from ledger.signing import KeySigner
from ledger.treehead import sign_tree_head

from .conftest import scratch_engine


def rec(i: int) -> Record:
    return Record("did:web:a", "did:web:b", "urn:uuid:agr", "use", "permit", f"{i:064x}")


async def anchored_ledger(tmp_path: Path, signer: KeySigner, w3: Web3) -> tuple[Ledger, Anchorer]:
    engine = scratch_engine(tmp_path / "anchored.db")
    ledger = await Ledger.open(engine, signer)
    anchorer = await asyncio.to_thread(Anchorer.deploy, w3)
    scheduler = AnchorScheduler(
        ledger, anchorer, every_records=10, every_seconds=3600, poll_seconds=0.01
    )
    await scheduler.start()
    for i in range(35):
        await ledger.append(rec(i))
        if i % 10 == 9:
            for _ in range(300):
                if scheduler.last_size == i + 1:
                    break
                await asyncio.sleep(0.01)
    await scheduler.stop()
    assert await scheduler.anchor_now() is not None  # flush the tail
    return ledger, anchorer


async def test_anchors_every_n_records_and_audit(
    tmp_path: Path, provider_signer: KeySigner
) -> None:
    ledger, anchorer = await anchored_ledger(tmp_path, provider_signer, embedded_web3())
    anchors = await ledger.anchors()
    assert [a.size for a in anchors] == [10, 20, 30, 35]
    on_chain = await anchorer.anchored_async(ledger.log_id)
    assert [(a.size, a.root) for a in on_chain] == [(a.size, a.root) for a in anchors]
    key = provider_signer.public_key()
    report = await audit_ledger(ledger, key, anchorer=anchorer)
    assert report.ok, report.discrepancies
    assert sum(e.category == "anchor" for e in report.timeline) == 4

    # an anchor whose root the log does not produce
    forged = sign_tree_head(provider_signer, 35, b"\x13" * 32)
    await anchorer.anchor_async(ledger.log_id, forged)
    report = await audit_ledger(ledger, key, anchorer=anchorer)
    assert report.kinds() == {Finding.ANCHOR_MISMATCH}

    # an anchor the log claims but the chain does not hold
    claimed = dataclasses.replace(anchors[0], tx_hash="0x" + "ab" * 32)
    await ledger.store.put_anchor(claimed)
    report = await audit_ledger(ledger, key, anchorer=anchorer)
    assert report.kinds() == {Finding.ANCHOR_MISMATCH, Finding.ANCHOR_MISSING}
    await ledger.close()
    await ledger.store.engine.dispose()


async def test_anchored_size_beyond_the_log_reveals_truncation(
    tmp_path: Path, provider_signer: KeySigner
) -> None:
    ledger, anchorer = await anchored_ledger(tmp_path, provider_signer, embedded_web3())
    big = sign_tree_head(provider_signer, 50, b"\x01" * 32)
    await anchorer.anchor_async(ledger.log_id, big)
    report = await audit_ledger(ledger, provider_signer.public_key(), anchorer=anchorer)
    assert Finding.TRUNCATED in report.kinds()
    await ledger.close()
    await ledger.store.engine.dispose()


async def test_anchors_every_t_seconds(tmp_path: Path, provider_signer: KeySigner) -> None:
    engine = scratch_engine(tmp_path / "timed.db")
    ledger = await Ledger.open(engine, provider_signer)
    anchorer = await asyncio.to_thread(Anchorer.deploy, embedded_web3())
    scheduler = AnchorScheduler(
        ledger, anchorer, every_records=10**6, every_seconds=0.05, poll_seconds=0.01
    )
    await scheduler.start()
    await ledger.append_many([rec(0), rec(1)])  # one commit: the timer sees both or neither
    for _ in range(500):
        if scheduler.last_size == 2:
            break
        await asyncio.sleep(0.01)
    await scheduler.stop()
    assert [a.size for a in await ledger.anchors()] == [2]
    assert await scheduler.anchor_now() is None  # nothing new to anchor
    await ledger.close()
    await engine.dispose()


def test_contract_guards_the_log_id() -> None:
    w3 = embedded_web3()
    anchorer = Anchorer.deploy(w3)
    signer_head = dataclasses.replace(
        sign_tree_head(_DummySigner(), 5, b"\x02" * 32), signature=b""
    )
    log_id = b"\x07" * 32
    anchorer.anchor(log_id, signer_head)
    with pytest.raises(AnchorError):  # the log may not shrink
        anchorer.anchor(log_id, dataclasses.replace(signer_head, size=4))
    intruder = Anchorer(w3, anchorer.address, account=list(w3.eth.accounts)[1])
    with pytest.raises(AnchorError):  # another account may not anchor this log
        intruder.anchor(log_id, signer_head)
    assert [a.size for a in anchorer.anchored(log_id)] == [5]


def test_a_fixed_gas_limit_is_sent_instead_of_an_estimate() -> None:
    w3 = embedded_web3()
    anchorer = Anchorer.deploy(w3, gas=EMBEDDED_ANCHOR_GAS)
    head = dataclasses.replace(sign_tree_head(_DummySigner(), 5, b"\x02" * 32), signature=b"")
    log_id = b"\x08" * 32
    rows = [anchorer.anchor(log_id, head), anchorer.anchor(log_id, head)]  # first, then later
    assert [w3.eth.get_transaction(r.tx_hash)["gas"] for r in rows] == [EMBEDDED_ANCHOR_GAS] * 2
    assert [a.tx_hash for a in anchorer.anchored(log_id)] == [r.tx_hash for r in rows]
    assert rows[0].chain_id == rows[1].chain_id == w3.eth.chain_id
    with pytest.raises(AnchorError):  # the contract's guards hold as with an estimate
        anchorer.anchor(log_id, dataclasses.replace(head, size=4))


def test_a_gas_limit_too_low_is_an_anchor_error() -> None:
    w3 = embedded_web3()
    anchorer = Anchorer.deploy(w3, gas=30_000)
    head = dataclasses.replace(sign_tree_head(_DummySigner(), 5, b"\x02" * 32), signature=b"")
    with pytest.raises(AnchorError):
        anchorer.anchor(b"\x08" * 32, head)
    assert anchorer.anchored(b"\x08" * 32) == []


class _DummySigner:
    kid = "dummy"

    def sign(self, message: bytes) -> bytes:
        return b""


@pytest.mark.evm_node
async def test_anchoring_on_a_json_rpc_node(
    tmp_path: Path, provider_signer: KeySigner, ganache_url: str
) -> None:
    w3 = http_web3(ganache_url)
    ledger, anchorer = await anchored_ledger(tmp_path, provider_signer, w3)
    assert [a.size for a in await ledger.anchors()] == [10, 20, 30, 35]
    report = await audit_ledger(ledger, provider_signer.public_key(), anchorer=anchorer)
    assert report.ok, report.discrepancies
    # a reader with a fresh connection and only the contract address sees the same anchors
    reader = Anchorer(http_web3(ganache_url), anchorer.address)
    assert [a.size for a in await reader.anchored_async(ledger.log_id)] == [10, 20, 30, 35]
    await ledger.close()
    await ledger.store.engine.dispose()


@pytest.mark.evm_node
def test_locally_signed_transactions_on_a_json_rpc_node(ganache_url: str) -> None:
    """Production nodes do not hold our key: transactions are signed locally."""
    w3 = http_web3(ganache_url)
    account = w3.eth.account.create()
    funder = w3.eth.accounts[0]
    tx = w3.eth.send_transaction({"from": funder, "to": account.address, "value": Wei(10**18)})
    w3.eth.wait_for_transaction_receipt(tx)
    anchorer = Anchorer.deploy(w3, private_key=account.key.hex())
    head = dataclasses.replace(sign_tree_head(_DummySigner(), 3, b"\x05" * 32), signature=b"")
    row = anchorer.anchor(b"\x09" * 32, head)
    found = anchorer.anchored(b"\x09" * 32)
    assert [(a.size, a.tx_hash, a.sender) for a in found] == [(3, row.tx_hash, account.address)]
