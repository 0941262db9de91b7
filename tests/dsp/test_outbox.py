"""The persisted outbox: retries with back-off until the peer answers, exactly-once leasing
when several workers (replicas) share one database, and per-process ordering."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from connector.dsp import messages as m
from connector.dsp.outbox import (
    LEASE_OWNER,
    NEEDS_PASS,
    SEND_NOW,
    Delivery,
    OutboxWorker,
    Queued,
    RetryPolicy,
    enqueue,
)
from connector.dsp.tables import outbox
from connector.dsp.validation import SchemaViolation
from connector.outbound import PeerHttp
from connector.storage import create_engine, upgrade
from identity.http_guard import FetchPolicy
from tests.dsp.helpers import Node, start_node, wait_for

#: the sink runs on loopback: the guarded client in development mode
DEV_POLICY = FetchPolicy(any_host=True, allow_loopback=True, allow_private=True, allow_http=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_messages_wait_for_a_peer_that_is_down(tmp_path: Path) -> None:
    from connector.config import load_settings
    from connector.participant import init_participant, read_admin_key
    from connector.runtime import Connector

    port = free_port()
    directory = tmp_path / "city"
    init_participant(
        directory,
        "city",
        "city",
        port=port,
        extra_settings={"dsp": {"authentication": "self-issued"}},
        dev_mode=True,
    )
    async with aiohttp.ClientSession() as http:
        # the provider publishes, then goes down (its fixed port keeps its did:web)
        city = Node(Connector(load_settings(directory, env={})), read_admin_key(directory), http)
        await city.connector.start()
        dataset_id, _, offer = await city.publish()
        await city.connector.stop()
        company = await start_node(tmp_path, "company", "company", http=http)
        try:
            # short, capped back-off so the test does not wait minutes on a loaded machine
            assert company.dsp.worker is not None
            company.dsp.worker.policy = RetryPolicy(base_s=0.05, cap_s=0.4, max_attempts=10_000)
            status, neg = await company.admin(
                "POST",
                "/negotiations",
                {
                    "counterPartyAddress": f"http://127.0.0.1:{port}/dsp",
                    "offer": offer,
                    "target": dataset_id,
                },
            )
            assert status == 201
            await asyncio.sleep(0.6)  # a few failed attempts
            assert company.connector.ctx is not None
            async with company.connector.ctx.engine.connect() as conn:
                q = select(outbox).where(outbox.c.process_pid == neg["id"])
                row = (await conn.execute(q)).one()
            assert row.status == "pending" and row.attempts >= 1 and "Connect" in row.last_error
            city.connector = Connector(load_settings(directory, env={}))
            await city.connector.start()  # back up: the queued request goes through
            try:
                done = await wait_for(
                    company.negotiation, neg["id"], {"FINALIZED", "TERMINATED"}, within=30
                )
                assert done["state"] == "FINALIZED", done
            finally:
                await city.connector.stop()
        finally:
            await company.connector.stop()


class Sink:
    """A peer that counts what it receives, per process, in arrival order."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        await asyncio.sleep(0.005)
        self.received.append((request.match_info["pid"], body["code"]))
        return web.json_response({})


@pytest.fixture
async def sink() -> AsyncIterator[tuple[Sink, str]]:
    s = Sink()
    app = web.Application()
    app.router.add_post("/negotiations/{pid}/termination", s.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield s, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


class StubIssuer:
    async def token_for(self, audience_did: str) -> str:
        return "t"


async def test_replicas_deliver_each_message_exactly_once_in_order(
    db_url: str, sink: tuple[Sink, str]
) -> None:
    receiver, base = sink
    engine = create_engine(db_url)
    await upgrade(engine)
    outcomes: list[tuple[int, bool]] = []

    async def on_outcome(conn: AsyncConnection, d: Delivery, ok: bool) -> None:
        outcomes.append((d.row_id, ok))

    try:
        async with engine.begin() as conn:
            for p in range(12):
                for seq in range(3):
                    msg = m.negotiation_termination(f"p{p}", "c", f"{seq}", "x")
                    await enqueue(
                        conn,
                        process_pid=f"p{p}",
                        kind="negotiation",
                        message=msg,
                        url=f"{base}/negotiations/p{p}/termination",
                        audience_did="d",
                    )
        async with PeerHttp(DEV_POLICY) as http:
            workers = [
                OutboxWorker(
                    engine,
                    StubIssuer(),
                    lambda: http,
                    on_outcome,
                    logging.getLogger("t"),
                    batch=5,
                )
                for _ in range(3)
            ]

            async def drain(w: OutboxWorker) -> None:
                idle = 0
                while idle < 3:
                    idle = 0 if await w.run_once() else idle + 1
                    await asyncio.sleep(0.01)

            await asyncio.gather(*(drain(w) for w in workers))
        assert len(receiver.received) == 36
        assert sorted(set(receiver.received)) == sorted(receiver.received)  # no duplicates
        for p in range(12):
            assert [c for pid, c in receiver.received if pid == f"p{p}"] == ["0", "1", "2"]
        assert len(outcomes) == 36 and all(ok for _, ok in outcomes)
    finally:
        await engine.dispose()


async def test_only_the_first_pending_message_of_a_process_is_sent_at_once(
    db_url: str, sink: tuple[Sink, str]
) -> None:
    """A worker's own transaction leases a new message for an immediate send only when no
    earlier message of that process is pending; the later ones wait for a worker pass and
    still arrive in order."""
    receiver, base = sink
    engine = create_engine(db_url)
    await upgrade(engine)
    outcomes: list[tuple[int, bool]] = []

    async def on_outcome(conn: AsyncConnection, d: Delivery, ok: bool) -> None:
        outcomes.append((d.row_id, ok))

    try:
        async with PeerHttp(DEV_POLICY) as http:
            worker = OutboxWorker(
                engine, StubIssuer(), lambda: http, on_outcome, logging.getLogger("t")
            )
            batches: list[tuple[list[Queued], list[bool]]] = []
            for codes in (("0", "1"), ("2",)):
                async with engine.begin() as conn:
                    conn.info[LEASE_OWNER] = worker.owner
                    conn.info[SEND_NOW], conn.info[NEEDS_PASS] = [], []
                    for code in codes:
                        await enqueue(
                            conn,
                            process_pid="p",
                            kind="negotiation",
                            message=m.negotiation_termination("p", "c", code, "x"),
                            url=f"{base}/negotiations/p/termination",
                            audience_did="d",
                        )
                    batches.append((conn.info.pop(SEND_NOW), conn.info.pop(NEEDS_PASS)))
                    del conn.info[LEASE_OWNER]
            (first, first_pass), (second, second_pass) = batches
            assert [q.process_pid for q in first] == ["p"] and first_pass == [True]
            assert second == [] and second_pass == [True]  # "0" is still pending
            assert await worker.run_once() == 0  # "1" waits for "0"; "0" is leased to us
            tasks: list[asyncio.Task[None]] = []
            worker.send_now(first, lambda coro: tasks.append(asyncio.create_task(coro)))
            await asyncio.gather(*tasks)
            assert receiver.received == [("p", "0")]
            assert await worker.run_once() == 1
            assert await worker.run_once() == 1
            assert await worker.run_once() == 0
        assert receiver.received == [("p", "0"), ("p", "1"), ("p", "2")]
        assert [ok for _, ok in outcomes] == [True, True, True]
        async with engine.connect() as conn:
            rows = (await conn.execute(select(outbox.c.status, outbox.c.lease_until))).all()
        assert [tuple(r) for r in rows] == [("sent", None)] * 3
    finally:
        await engine.dispose()


async def test_outgoing_messages_must_validate(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await upgrade(engine)
    try:
        async with engine.begin() as conn:
            with pytest.raises(SchemaViolation):
                await enqueue(
                    conn,
                    process_pid="p",
                    kind="negotiation",
                    message={"@type": "ContractRequestMessage"},
                    url="http://x",
                    audience_did="d",
                )
    finally:
        await engine.dispose()


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_s=1, cap_s=8)
    delays = [policy.delay(n) for n in range(1, 8)]
    assert all(0.5 <= d / min(8, 2 ** (n - 1)) <= 1.0 for n, d in enumerate(delays, 1))
    assert max(delays) <= 8


async def test_a_host_no_longer_allowed_is_never_contacted(
    tmp_path: Path, sink: tuple[Sink, str]
) -> None:
    receiver, base = sink
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await upgrade(engine)
    outcomes: list[bool] = []

    async def on_outcome(conn: AsyncConnection, d: Delivery, ok: bool) -> None:
        outcomes.append(ok)

    try:
        async with engine.begin() as conn:
            msg = m.negotiation_termination("p", "c", "x", "y")
            await enqueue(
                conn,
                process_pid="p",
                kind="negotiation",
                message=msg,
                url=f"{base}/negotiations/p/termination",
                audience_did="d",
            )
        async with PeerHttp(DEV_POLICY) as http:
            worker = OutboxWorker(
                engine,
                StubIssuer(),
                lambda: http,
                on_outcome,
                logging.getLogger("t"),
                url_allowed=lambda url: False,
            )
            assert await worker.run_once() == 1
        assert receiver.received == [] and outcomes == [False]
        async with engine.connect() as conn:
            assert (await conn.execute(select(outbox.c.status))).scalar_one() == "failed"
    finally:
        await engine.dispose()


async def test_retention_forgets_old_deliveries_and_digests(db_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func, insert, update

    from connector.dsp.retention import prune
    from connector.dsp.tables import negotiations, received

    engine = create_engine(db_url)
    await upgrade(engine)
    try:
        long_ago = datetime.now(UTC) - timedelta(days=60)
        async with engine.begin() as conn:
            for pid, state in (("old", "FINALIZED"), ("live", "REQUESTED")):
                await conn.execute(
                    insert(negotiations).values(
                        pid=pid,
                        role="provider",
                        provider_pid=pid,
                        consumer_pid="c",
                        state=state,
                        counterparty_did="d",
                        counterparty_address="http://x",
                        created_at=long_ago,
                        updated_at=long_ago,
                    )
                )
                await conn.execute(insert(received).values(process_pid=pid, digest="x" * 64))
            for pid in ("old", "live"):
                await enqueue(
                    conn,
                    process_pid=pid,
                    kind="negotiation",
                    message=m.negotiation_termination("p", "c"),
                    url="http://x/t",
                    audience_did="d",
                )
            await conn.execute(
                update(outbox)
                .where(outbox.c.process_pid == "old")
                .values(status="sent", created_at=0)
            )
        assert await prune(engine, 30 * 86_400) == (1, 1)
        async with engine.connect() as conn:
            left = (await conn.execute(select(received.c.process_pid))).scalars().all()
            pending = (await conn.execute(select(func.count()).select_from(outbox))).scalar()
        assert left == ["live"] and pending == 1
    finally:
        await engine.dispose()
