"""Helpers for tests that talk to a running connector over HTTP."""

from __future__ import annotations

import json
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


NGSI_LD = "/ngsi-ld/v1"


@dataclass
class Reply:
    status: int
    headers: Any
    body: Any
    content_type: str


@dataclass
class NgsiClient:
    """Speaks NGSI-LD to a running connector: JSON bodies by default, raw bytes when asked."""

    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.connector.url + NGSI_LD

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        admin: bool = True,
        ctype: str = "application/json",
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Reply:
        h = {"Authorization": f"Bearer {self.admin_key}"} if admin else {}
        data = raw
        if body is not None and raw is None:
            data = json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = ctype
        h.update(headers or {})
        async with self.http.request(
            method, self.url + path, data=data, headers=h, params=params
        ) as resp:
            text = await resp.text()
            parsed = json.loads(text) if text else None
            return Reply(resp.status, resp.headers, parsed, resp.content_type)

    async def get(self, path: str, **params: str) -> Reply:
        return await self.call("GET", path, params=params or None)

    async def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("POST", path, body, **kw)

    async def patch(self, path: str, body: Any, **kw: Any) -> Reply:
        return await self.call("PATCH", path, body, **kw)

    async def delete(self, path: str) -> Reply:
        return await self.call("DELETE", path)

    async def create(self, entity: dict[str, Any]) -> None:
        reply = await self.post("/entities", entity)
        assert reply.status == 201, reply.body
