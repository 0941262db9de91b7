from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector


@dataclass
class Running:
    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.connector.url

    def admin_headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}", **extra}

    async def call(self, method: str, path: str, *, admin: bool = True, **kw: Any) -> Any:
        headers = {**(self.admin_headers() if admin else {}), **kw.pop("headers", {})}
        return await self.http.request(method, self.url + path, headers=headers, **kw)


@pytest.fixture
async def running(db_url: str, participant_dir: Callable[..., Path]) -> AsyncIterator[Running]:
    """A connector served on a loopback port, on each storage engine."""
    directory = participant_dir(storage_url=db_url)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield Running(connector, read_admin_key(directory), http)
        finally:
            await connector.stop()
