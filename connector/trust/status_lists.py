"""Issuer side of the Bitstring Status List, persisted: the authority's revocation and
suspension lists.

The bits live in SQL (identity.StatusListIssuer.to_json()), so a revocation or suspension made
through one replica is what every replica serves at ``/status/{listId}``. Each change is a
read-modify-write under a row lock (PostgreSQL) or the process lock (SQLite, which has one writer
anyway).
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector.http.context import CTX
from connector.http.problems import Problem
from connector.storage import is_postgres
from connector.trust.tables import status_lists
from identity import Participant, StatusListIssuer, StatusPurpose

REVOCATION_LIST = "revocation-1"
SUSPENSION_LIST = "suspension-1"
#: The lists the authority keeps, and the purpose of each.
PURPOSES: dict[str, StatusPurpose] = {
    REVOCATION_LIST: StatusPurpose.REVOCATION,
    SUSPENSION_LIST: StatusPurpose.SUSPENSION,
}
LIST_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
#: How long a served list credential is valid; verifiers re-fetch sooner (their own TTL).
LIST_VALIDITY_S = 3600.0


class StatusLists:
    def __init__(self, engine: AsyncEngine, issuer: Participant, base_url: str) -> None:
        self._engine = engine
        self._issuer = issuer
        self._base = base_url.rstrip("/")
        self._lock = asyncio.Lock()

    def url(self, list_id: str) -> str:
        return f"{self._base}/status/{list_id}"

    async def ensure_all(self) -> None:
        for list_id in PURPOSES:
            await self.ensure(list_id)

    async def ensure(self, list_id: str = REVOCATION_LIST) -> None:
        """Create the list once (purpose from :data:`PURPOSES`); a replica that loses the race
        finds it created."""
        async with self._engine.connect() as conn:
            found = (
                await conn.execute(select(status_lists.c.id).where(status_lists.c.id == list_id))
            ).first()
        if found is not None:
            return
        fresh = StatusListIssuer(self._issuer, self.url(list_id), PURPOSES[list_id])
        try:
            async with self._engine.begin() as conn:
                await conn.execute(
                    status_lists.insert().values(
                        id=list_id,
                        purpose=fresh.purpose.value,
                        data=json.dumps(fresh.to_json()),
                        updated_at=datetime.now(UTC),
                    )
                )
        except IntegrityError:
            pass

    async def _locked(self, conn: AsyncConnection, list_id: str) -> StatusListIssuer | None:
        stmt = select(status_lists.c.data).where(status_lists.c.id == list_id)
        if is_postgres(self._engine):
            stmt = stmt.with_for_update()
        row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return StatusListIssuer.from_json(self._issuer, json.loads(row.data))

    async def _save(self, conn: AsyncConnection, list_id: str, issuer: StatusListIssuer) -> None:
        await conn.execute(
            update(status_lists)
            .where(status_lists.c.id == list_id)
            .values(data=json.dumps(issuer.to_json()), updated_at=datetime.now(UTC))
        )

    async def allocate(
        self, conn: AsyncConnection, list_id: str = REVOCATION_LIST, index: int | None = None
    ) -> dict[str, Any]:
        """Reserve an index inside the caller's transaction; returns the credentialStatus entry.

        Without ``index`` a random free one; with it, exactly that one (it must be free), so a
        credential can hold the same position in the revocation and the suspension list.
        """
        issuer = await self._locked(conn, list_id)
        if issuer is None:
            raise LookupError(list_id)
        if index is None:
            entry = issuer.allocate()
        else:
            if issuer.allocated[index]:
                raise ValueError(f"index {index} of {list_id} is taken")
            issuer.allocated.set(index)
            entry = issuer.entry(index)
        await self._save(conn, list_id, issuer)
        return entry

    async def set_status(
        self, conn: AsyncConnection, list_id: str, index: int, value: bool = True
    ) -> None:
        """Set (revoke, suspend) or clear (reinstate) one bit inside the caller's transaction."""
        issuer = await self._locked(conn, list_id)
        if issuer is None:
            raise LookupError(list_id)
        issuer.set_status(index, value)
        await self._save(conn, list_id, issuer)

    @property
    def lock(self) -> asyncio.Lock:
        """Held around every transaction that changes a list (serialises SQLite writers)."""
        return self._lock

    async def credential(self, list_id: str) -> str | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(status_lists.c.data).where(status_lists.c.id == list_id))
            ).first()
        if row is None:
            return None
        issuer = StatusListIssuer.from_json(self._issuer, json.loads(row.data))
        return issuer.issue_credential(valid_for=LIST_VALIDITY_S)


async def get_status_list(request: web.Request) -> web.Response:
    """GET /status/{listId}: the list as a VC-JWT signed by the authority (public)."""
    list_id = request.match_info["list_id"]
    if not LIST_ID.match(list_id):
        raise Problem(404, "Not Found", detail="no such status list")
    lists: StatusLists = request.app[CTX].components["trust"].status_lists
    token = await lists.credential(list_id)
    if token is None:
        raise Problem(404, "Not Found", detail=f"no status list {list_id}")
    return web.Response(
        text=token, content_type="application/vc+jwt", headers={"Cache-Control": "no-cache"}
    )
