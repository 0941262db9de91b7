"""The SQLite writer process: group commit, a writer that dies, a parent that dies."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.errors import StoreError
from ledger.log import Ledger
from ledger.merkle import root_of
from ledger.records import Record
from ledger.signing import KeySigner
from ledger.store import sqlite_engine


def rec(i: int) -> Record:
    return Record("did:web:a", "did:web:b", "urn:uuid:agr", "use", "permit", f"{i:064x}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) counts as gone
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


async def gone(pid: int, within: float = 10.0) -> bool:
    for _ in range(int(within / 0.05)):
        if not alive(pid):
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.fixture
async def ledger(tmp_path: Path, provider_signer: KeySigner) -> AsyncIterator[Ledger]:
    """A log on a SQLite file (so with a writer process), closed after the test."""
    engine = sqlite_engine(str(tmp_path / "log.db"))
    log = await Ledger.open(engine, provider_signer)
    yield log
    await log.close()  # a second close is a no-op
    await engine.dispose()


async def test_concurrent_appends_share_commits_and_stay_contiguous(ledger: Ledger) -> None:
    pid = ledger.store.writer_pid
    assert pid is not None  # started with the log, not at the first append

    done = await asyncio.gather(*(ledger.append(rec(i)) for i in range(500)))

    assert sorted(a.index for a in done) == list(range(500))
    assert ledger.store.writer_pid == pid  # one process for all of them
    entries = await ledger.entries()
    assert {e.index: e.leaf_hash for e in entries} == {a.index: a.leaf_hash for a in done}
    assert ledger.tree.root() == root_of([e.leaf_hash for e in entries])
    await ledger.close()
    assert ledger.store.writer_pid is None
    assert await gone(pid)


async def test_a_killed_writer_fails_its_calls_and_a_new_one_takes_over(ledger: Ledger) -> None:
    first = [await ledger.append(rec(i)) for i in range(3)]
    pid = ledger.store.writer_pid
    assert pid is not None

    # appends in flight when the writer dies fail with a clear error (none hangs); the next
    # append starts a new writer and lands after the acknowledged ones
    flying = [asyncio.create_task(ledger.append(rec(10 + i))) for i in range(200)]
    await asyncio.sleep(0)
    os.kill(pid, signal.SIGKILL)
    outcomes = await asyncio.wait_for(asyncio.gather(*flying, return_exceptions=True), 30)
    assert await gone(pid)
    assert all(isinstance(o, StoreError) or o.index >= 3 for o in outcomes)
    later = await asyncio.wait_for(ledger.append(rec(99)), 30)
    assert ledger.store.writer_pid not in (None, pid)

    await ledger.sync()
    entries = await ledger.entries()
    assert [e.index for e in entries] == list(range(len(entries)))
    assert [e.leaf_hash for e in entries[:3]] == [a.leaf_hash for a in first]
    assert entries[later.index].leaf_hash == later.leaf_hash
    assert ledger.tree.root() == root_of([e.leaf_hash for e in entries])
    await ledger.close()


async def test_the_writer_outlasts_a_signal_to_the_process_group(ledger: Ledger) -> None:
    """Ctrl-C or a service manager's SIGTERM reaches every process of the group: the writer
    stays to commit what the connector still appends while it shuts down."""
    pid = ledger.store.writer_pid
    assert pid is not None
    for sig in (signal.SIGINT, signal.SIGTERM):
        os.kill(pid, sig)
    await asyncio.sleep(0.2)
    assert alive(pid)
    assert (await ledger.append(rec(0))).index == 0
    await ledger.close()
    assert await gone(pid)


async def test_a_failed_statement_is_a_store_error_and_the_writer_goes_on(ledger: Ledger) -> None:
    pid = ledger.store.writer_pid
    async with (
        ledger.store.engine.begin() as conn
    ):  # a damaged database: the receipts table is gone
        await conn.execute(text(f"DROP TABLE {ledger.store.tables.receipts.name}"))
    with pytest.raises(StoreError, match="no such table"):
        await ledger.store.put_receipt_texts([("urn:uuid:agr", 0, "{}")])
    with pytest.raises(StoreError, match="cannot read the log: no such table"):
        await ledger.store.countersigned("urn:uuid:agr", [0])
    assert (await ledger.append(rec(1))).index == 0
    assert ledger.store.writer_pid == pid
    await ledger.close()


async def test_the_writer_does_not_outlive_a_killed_connector(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from cryptography.hazmat.primitives.asymmetric import ed25519
        from ledger.log import Ledger
        from ledger.records import Record
        from ledger.signing import KeySigner
        from ledger.store import sqlite_engine

        async def main():
            signer = KeySigner(ed25519.Ed25519PrivateKey.generate(), "did:web:x#k")
            ledger = await Ledger.open(sqlite_engine({str(tmp_path / "log.db")!r}), signer)
            await ledger.append(Record("did:web:a", "did:web:b", "agr", "use", "permit"))
            print(ledger.store.writer_pid, flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE
    )
    assert parent.stdout is not None
    line = await asyncio.wait_for(parent.stdout.readline(), 60)
    writer = int(line)
    assert alive(writer)
    parent.send_signal(signal.SIGKILL)
    await parent.wait()
    assert await gone(writer)  # its input closed with the parent: it stopped by itself
