"""The ledger's writer thread: calls run in order off the event loop, errors come back."""

from __future__ import annotations

import asyncio
import threading

import pytest

from ledger.worker import WorkerThread


async def test_calls_run_in_order_on_one_other_thread() -> None:
    worker = WorkerThread("test-worker")
    seen: list[tuple[int, str]] = []

    def job(i: int) -> int:
        seen.append((i, threading.current_thread().name))
        return i * i

    results = await asyncio.gather(*(worker.run(job, i) for i in range(50)))
    assert results == [i * i for i in range(50)]
    assert [i for i, _ in seen] == list(range(50))
    assert {name for _, name in seen} == {"test-worker_0"}
    worker.close()


async def test_an_error_reaches_the_caller_and_the_thread_goes_on() -> None:
    worker = WorkerThread("test-worker")

    def boom() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        await worker.run(boom)
    assert await worker.run(lambda: 7) == 7
    worker.close()


async def test_close_finishes_queued_work_then_runs_last() -> None:
    worker = WorkerThread("test-worker")
    order: list[str] = []
    pending = asyncio.ensure_future(worker.run(order.append, "queued"))
    await asyncio.sleep(0)  # the job is queued
    await asyncio.to_thread(worker.close, lambda: order.append("last"))
    assert order == ["queued", "last"]
    await pending
    with pytest.raises(RuntimeError, match="closed"):
        await worker.run(order.append, "late")
    worker.close()  # twice is harmless


async def test_several_threads_share_the_work() -> None:
    worker = WorkerThread("pool", threads=3)
    barrier = threading.Barrier(3, timeout=30)

    def meet(i: int) -> str:
        barrier.wait()  # only passes if three calls run at the same time
        return threading.current_thread().name

    names = await asyncio.gather(*(worker.run(meet, i) for i in range(3)))
    assert sorted(names) == ["pool_0", "pool_1", "pool_2"]
    with pytest.raises(ValueError, match="single thread"):
        worker.close(lambda: None)
    await asyncio.to_thread(worker.close)
