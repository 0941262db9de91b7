"""Helpers for tests that talk to a running connector over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

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
