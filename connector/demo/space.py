"""The demo's data space: four participants' connectors on loopback ports."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from connector.config import load_settings
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: Loopback http for did:web, the authority admits at once, and a short status-list cache so
#: the demo sees a revocation within a second.
DEMO_STATUS_LIST_TTL_S = 1.0


def demo_identity(role: str) -> dict[str, Any]:
    return {
        "allow_http_hosts": ["127.0.0.1"],
        "status_list_ttl_s": DEMO_STATUS_LIST_TTL_S,
        "trusted_issuers_ttl_s": 5.0,
        "auto_approve": role == "authority",
    }


#: The city is paid, and the company pays, in the demo token on the embedded chain (one chain
#: per process, shared by the demo's connectors); the company's account holds the supply.
DEMO_MARKET = {
    "city": {"evm_chain": "embedded", "evm_account": "embedded:1"},
    "company": {"evm_chain": "embedded", "evm_account": "embedded:0"},
}


CAST = [
    ("authority", "Murcia Data Space Authority", "authority"),
    ("city", "City of Murcia", "city"),
    ("company", "Movilidad Sostenible S.L.", "company"),
    ("auditor", "Regional Audit Office", "auditor"),
]


@dataclass
class Member:
    key: str
    connector: Connector
    admin_key: str

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def did(self) -> str:
        return self.connector.settings.did

    @property
    def name(self) -> str:
        return self.connector.settings.participant.name


@dataclass
class DataSpace:
    root: Path
    http: aiohttp.ClientSession
    members: dict[str, Member] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    status_list_ttl_s: float = DEMO_STATUS_LIST_TTL_S
    #: where the demo's reports go (kept after the demo, even when ``root`` is temporary)
    reports: Path | None = None

    @property
    def report_dir(self) -> Path:
        folder = self.reports or self.root
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def __getitem__(self, key: str) -> Member:
        return self.members[key]

    async def admin(
        self, who: str, method: str, path: str, json: Any = None, **kw: Any
    ) -> tuple[int, Any]:
        """Call a member's own API with its admin key; returns (status, parsed body)."""
        member = self.members[who]
        headers = {"Authorization": f"Bearer {member.admin_key}", **kw.pop("headers", {})}
        async with self.http.request(
            method, member.url + path, json=json, headers=headers, **kw
        ) as resp:
            body: Any = await resp.json(content_type=None) if resp.content_length != 0 else None
            return resp.status, body

    async def start(self) -> None:
        for key, name, role in CAST:
            await self.add(key, name, role)

    async def add(self, key: str, name: str, role: str) -> Member:
        """Create (first run) and start one participant's connector."""
        directory = self.root / key
        if not (directory / "agora.toml").exists():
            # A fixed port per participant keeps its did:web stable across demo restarts.
            init_participant(
                directory,
                name,
                role,
                port=free_port(),
                extra_settings={
                    "identity": demo_identity(role),
                    **({"marketplace": DEMO_MARKET[key]} if key in DEMO_MARKET else {}),
                },
                dev_mode=True,
            )
        settings = load_settings(directory)
        connector = Connector(settings)
        await connector.start()
        self.members[key] = Member(key, connector, read_admin_key(directory))
        return self.members[key]

    async def stop(self) -> None:
        for member in reversed(list(self.members.values())):
            await member.connector.stop()
