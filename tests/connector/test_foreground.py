"""connector.http.foreground: background work waits for a moment without requests."""

from __future__ import annotations

import asyncio

from connector.http.foreground import Foreground


async def test_quiet_at_once_when_nothing_is_in_progress() -> None:
    assert await Foreground().quiet() is True


async def test_background_goes_on_when_the_last_request_ends() -> None:
    fg = Foreground(max_wait_s=10)
    order: list[str] = []

    async def background() -> None:
        await fg.quiet()
        order.append("background")

    with fg.handling():
        with fg.handling():
            task = asyncio.create_task(background())
            await asyncio.sleep(0.01)
            order.append("first done")
        await asyncio.sleep(0.01)
        assert not task.done()  # one request still in progress
        order.append("second done")
    await asyncio.wait_for(task, 5)
    assert order == ["first done", "second done", "background"]
    assert fg.active == 0


async def test_background_is_delayed_not_starved() -> None:
    fg = Foreground(max_wait_s=0.05)
    with fg.handling():
        assert await asyncio.wait_for(fg.quiet(), 5) is False
        assert fg.active == 1
    assert await fg.quiet() is True


async def test_a_failing_request_still_counts_as_ended() -> None:
    fg = Foreground(max_wait_s=10)
    try:
        with fg.handling():
            raise ValueError("handler failed")
    except ValueError:
        pass
    assert fg.active == 0
    assert await asyncio.wait_for(fg.quiet(), 1) is True
