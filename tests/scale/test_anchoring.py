"""Replicas sharing one log on PostgreSQL anchor it once per period, not once each."""

from __future__ import annotations

import asyncio
from functools import partial

from cryptography.hazmat.primitives.asymmetric import ed25519

from connector.storage import create_engine
from connector.storage.singleton import only_one_replica
from ledger.anchor import Anchorer, AnchorScheduler, embedded_web3
from ledger.log import Ledger
from ledger.records import Record
from ledger.signing import KeySigner


def rec(i: int) -> Record:
    return Record("did:web:a", "did:web:b", "urn:uuid:agr", "use", "permit", f"{i:064x}")


async def newest(ledger: Ledger) -> int:
    anchors = await ledger.anchors()
    return anchors[-1].size if anchors else 0


async def test_three_schedulers_on_one_log_anchor_each_head_once(postgres_url: str) -> None:
    signer = KeySigner(ed25519.Ed25519PrivateKey.generate(), "did:web:city.example#ledger-1")
    engines = [create_engine(postgres_url, pool_size=2) for _ in range(3)]
    first = await Ledger.open(engines[0], signer)
    ledgers = [first] + [await Ledger.open(e, signer, create=False) for e in engines[1:]]
    anchorer = await asyncio.to_thread(Anchorer.deploy, embedded_web3())  # one shared chain
    schedulers = [
        AnchorScheduler(
            ledger,
            anchorer,
            every_records=10**6,
            every_seconds=0.3,
            poll_seconds=0.02,
            exclusive=partial(only_one_replica, engine, "ledger-anchor"),
        )
        for ledger, engine in zip(ledgers, engines, strict=True)
    ]
    try:
        for s in schedulers:
            await s.start()
        for batch in range(3):
            for j, ledger in enumerate(ledgers):  # every replica appends its own records
                await ledger.append_many([rec(batch * 30 + j * 10 + i) for i in range(10)])
            async with asyncio.timeout(20):
                while await newest(first) < (batch + 1) * 30:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # several more periods: nothing new, so nothing anchored
        sizes = [a.size for a in await first.anchors()]
        assert sizes == sorted(set(sizes)), sizes  # no head anchored twice
        assert sizes[-1] == 90
        on_chain = await anchorer.anchored_async(first.log_id)
        assert [a.size for a in on_chain] == sizes
    finally:
        for s in schedulers:
            await s.stop()
        for ledger in ledgers:
            await ledger.close()
        for e in engines:
            await e.dispose()
