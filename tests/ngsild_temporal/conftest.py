"""Fixtures: a connector on both engines, or on SQLite only for parameter checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.ngsild_subscriptions.support import Client, make_participant, serving


@pytest.fixture
async def broker(db_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    async with serving(make_participant(tmp_path, db_url)) as client:
        yield client


@pytest.fixture
async def lite(tmp_path: Path) -> AsyncIterator[Client]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lite.db'}"
    async with serving(make_participant(tmp_path, url)) as client:
        yield client
