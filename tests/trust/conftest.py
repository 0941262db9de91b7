"""Several participants' connectors in one process, on loopback ports, for the trust tests.

Each participant has its own directory and database (SQLite file, or a fresh PostgreSQL
database when the test runs on PostgreSQL), and an ``[identity]`` section that allows plain
http towards 127.0.0.1 and re-checks status lists on every verification (TTL 0), so a
revocation is visible at once.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector
from connector.trust.core import Trust
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _admin_execute, _require_postgres

TEST_IDENTITY: dict[str, Any] = {
    "allow_http_hosts": ["127.0.0.1"],
    "status_list_ttl_s": 0,
    "trusted_issuers_ttl_s": 0,
    "did_cache_ttl_s": 0,
    "fetch_timeout_s": 5.0,
}


@dataclass
class Node:
    key: str
    directory: Path
    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def did(self) -> str:
        return self.connector.settings.did

    @property
    def trust(self) -> Trust:
        assert self.connector.ctx is not None
        found: Trust = self.connector.ctx.components["trust"]
        return found

    async def call(
        self, method: str, path: str, *, admin: bool = True, **kw: Any
    ) -> tuple[int, Any]:
        headers = {**kw.pop("headers", {})}
        if admin:
            headers.setdefault("Authorization", f"Bearer {self.admin_key}")
        async with self.http.request(method, self.url + path, headers=headers, **kw) as resp:
            raw = await resp.read()
            try:
                body: Any = await resp.json(content_type=None) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            return resp.status, body


@dataclass
class Space:
    root: Path
    http: aiohttp.ClientSession
    engine: str = "sqlite"
    nodes: dict[str, Node] = field(default_factory=dict)
    databases: list[str] = field(default_factory=list)

    async def _storage_url(self, key: str) -> str:
        if self.engine == "sqlite":
            return f"sqlite+aiosqlite:///{self.root / key / 'agora.db'}"
        name = f"agora_t_{uuid.uuid4().hex[:12]}"
        await _admin_execute(f'CREATE DATABASE "{name}"')
        self.databases.append(name)
        return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"

    async def add(
        self,
        key: str,
        role: str,
        *,
        name: str | None = None,
        identity: dict[str, Any] | None = None,
        storage_url: str | None = None,
        port: int = 0,
    ) -> Node:
        directory = self.root / key
        if not (directory / "agora.toml").exists():
            init_participant(
                directory,
                name or f"{key.title()} Participant",
                role,
                port=port,
                storage_url=storage_url or await self._storage_url(key),
                extra_settings={"identity": {**TEST_IDENTITY, **(identity or {})}},
                dev_mode=True,
            )
        return await self.start(key)

    async def start(self, key: str) -> Node:
        directory = self.root / key
        connector = Connector(load_settings(directory, env={}))
        await connector.start()
        node = Node(key, directory, connector, read_admin_key(directory), self.http)
        self.nodes[key] = node
        return node

    async def stop(self, key: str) -> None:
        node = self.nodes.pop(key)
        await node.connector.stop()

    async def close(self) -> None:
        for key in list(self.nodes):
            await self.stop(key)
        for name in self.databases:
            await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def __getitem__(self, key: str) -> Node:
        return self.nodes[key]

    async def onboard(self, member: Node, authority: Node, country: str = "ES") -> Any:
        """Apply; at an auto-approving authority, its operator approves what it left pending
        (the roles it vets), as a person would."""
        status, body = await member.call(
            "POST", "/api/v1/membership", json={"authority": authority.url, "country": country}
        )
        assert status in (201, 202), body
        if body["state"] == "pending" and authority.trust.cfg.auto_approve:
            status, approved = await authority.call(
                "POST", f"/api/v1/authority/requests/{body['requestId']}/approve"
            )
            assert status == 200, approved
            status, body = await member.call("GET", "/api/v1/membership")
            assert status == 200 and body["state"] == "approved", body
        return body


@pytest.fixture
async def space(tmp_path: Path) -> AsyncIterator[Space]:
    async with aiohttp.ClientSession() as http:
        s = Space(tmp_path, http)
        try:
            yield s
        finally:
            await s.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def any_space(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Space]:
    """The same data space on SQLite and on PostgreSQL (one database per participant)."""
    if request.param == "postgres":
        _require_postgres()
    async with aiohttp.ClientSession() as http:
        s = Space(tmp_path, http, engine=request.param)
        try:
            yield s
        finally:
            await s.close()


@pytest.fixture
async def onboarded(space: Space) -> Space:
    """Authority (auto-approve), city, company and auditor, all admitted."""
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    for key, role in (("city", "city"), ("company", "company"), ("auditor", "auditor")):
        node = await space.add(key, role)
        await space.onboard(node, authority)
    return space
