"""A writer killed with SIGKILL mid-stream loses no acknowledged append and leaves a valid tree."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from ledger.log import Ledger
from ledger.merkle import leaf_hash, root_of
from ledger.records import Record
from ledger.signing import KeySigner

from .conftest import Db

WRITER = Path(__file__).with_name("crash_writer.py")


async def run_and_kill(url: str, prefix: str, acks_before_kill: int) -> dict[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WRITER),
        url,
        prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    acked: dict[int, str] = {}
    try:
        while len(acked) < acks_before_kill:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            if not line:
                err = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"writer exited early: {err.decode()[-2000:]}")
            index, digest = line.decode().split()
            acked[int(index)] = digest
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()
    return acked


async def test_sigkill_loses_nothing_acknowledged(db: Db, provider_signer: KeySigner) -> None:
    acked = await run_and_kill(db.url, db.prefix, 2000)
    acked |= await run_and_kill(db.url, db.prefix, 1000)  # a second crash on the same log

    ledger = await Ledger.open(db.engine, provider_signer, prefix=db.prefix, create=False)
    entries = await ledger.entries()
    assert [e.index for e in entries] == list(range(len(entries)))
    assert await ledger.store.size() == len(entries)
    stored = {e.index: e.leaf_hash.hex() for e in entries}
    assert all(stored.get(i) == digest for i, digest in acked.items())
    assert all(leaf_hash(e.data) == e.leaf_hash for e in entries)
    assert ledger.tree.root() == root_of([e.leaf_hash for e in entries])

    # the log goes on after the crash and its proofs verify
    more = await ledger.append(Record("did:web:a", "did:web:b", "agr", "use", "permit"))
    assert more.index == len(entries)
    head = await ledger.tree_head()
    assert head.size == len(entries) + 1 and head.verify(provider_signer.public_key())
    await ledger.close()
