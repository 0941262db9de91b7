"""NGSI-LD fixtures shared by the broker's subscription, temporal and security tests.

Registered as a plugin by ``tests/conftest.py``, so a module anywhere may ask for ``broker``
(both engines), ``lite`` (SQLite only, for parameter checks) or ``receiver`` (a loopback
notification endpoint) without importing them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ngsild_subscriptions.support import Client, Receiver, make_participant, serving


@pytest.fixture
async def broker(db_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    async with serving(make_participant(tmp_path, db_url)) as client:
        yield client


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[Client]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lite.db'}"
    async with serving(make_participant(tmp_path, url)) as client:
        yield client


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    try:
        yield r
    finally:
        await r.stop()
