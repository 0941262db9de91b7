from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.identity.world import World


@pytest.fixture
async def world() -> AsyncIterator[World]:
    w = World()
    await w.build()
    try:
        yield w
    finally:
        await w.stop()
