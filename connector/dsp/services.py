"""What the runtime and the management API need of the negotiation and transfer services.

``runtime.Dsp`` holds both services, and both services use the runtime; typing the fields
with these protocols instead of the classes keeps the import graph a tree (negotiation and
transfer import the runtime, never the reverse).
"""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web

from connector.storage.inline import Conn


class ProcessService(Protocol):
    async def send(
        self, conn: Conn, row: Any, kind: Any, message: dict[str, Any], url: str, **fields: Any
    ) -> Any: ...

    async def take(
        self, conn: Conn, row: Any, approve: bool, reason: str | None = None
    ) -> None: ...

    async def on_process_message(
        self, request: web.Request, message_type: str, path_kind: str
    ) -> web.Response: ...

    async def get(self, request: web.Request) -> web.Response: ...

    async def on_outcome(
        self,
        conn: Conn,
        message: dict[str, Any],
        pid: str,
        ok: bool,
        answer: Any,
        status: int | None,
    ) -> None: ...


class NegotiationService(ProcessService, Protocol):
    def peer_url(self, row: Any, suffix: str) -> str: ...

    async def terminate(self, conn: Conn, row: Any, reason: str, code: str = ...) -> Any: ...

    async def approve(self, conn: Conn, row: Any) -> None: ...

    async def finalize(self, conn: Conn, row: Any) -> None: ...

    async def counter_offer(self, conn: Conn, row: Any, rules: dict[str, Any]) -> None: ...

    async def initial_request(self, request: web.Request) -> web.Response: ...

    async def initial_offer(self, request: web.Request) -> web.Response: ...


class TransferService(ProcessService, Protocol):
    async def act(self, conn: Conn, row: Any, kind: Any, reason: str | None = None) -> Any: ...

    async def request(self, request: web.Request) -> web.Response: ...

    async def refresh_token(self, request: web.Request) -> web.Response: ...
