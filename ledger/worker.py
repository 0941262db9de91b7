"""A dedicated thread for blocking calls, handed work without a lock the event loop waits on.

``ThreadPoolExecutor.submit`` takes a Python-level semaphore that its worker threads also take;
when a worker holds it while waiting for the GIL, the event loop thread blocks in ``submit``
until the two have traded the GIL, which under load cost milliseconds per call. Here work goes
through a ``queue.SimpleQueue`` (no Python lock) and results come back with
``call_soon_threadsafe``: the loop never waits on the worker.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Callable[..., Any], tuple[Any, ...], asyncio.AbstractEventLoop, "asyncio.Future[Any]"]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class WorkerThread:
    """Runs the calls given to :meth:`run` on its own thread(s): one after another, in order,
    with one thread (the default); concurrently, in no set order, with ``threads`` > 1."""

    def __init__(self, name: str, threads: int = 1) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{i}", daemon=True)
            for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()
        self._closed = False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._closed:
            raise RuntimeError("the worker thread is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, args, loop, future))
        return await future

    def close(self, last: Callable[[], Any] | None = None) -> None:
        """Finish the queued calls and ``last`` (e.g. closing a connection the thread owns),
        then stop the thread; blocks until it has."""
        if self._closed:
            return
        if last is not None and len(self._threads) > 1:
            raise ValueError("'last' needs a single thread to run after the others")
        self._closed = True
        if last is not None:
            self._jobs.put((last, (), _NO_LOOP, _NO_FUTURE))
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fn, args, loop, future = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:
                result, error = None, exc
            if loop is _NO_LOOP:
                continue
            try:
                loop.call_soon_threadsafe(_settle, future, result, error)
            except RuntimeError:  # the loop has closed: nobody waits any more
                pass


_NO_LOOP: Any = object()
_NO_FUTURE: Any = object()
