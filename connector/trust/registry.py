"""The authority's participant registry and the trusted-issuers list derived from it.

The registry is what the federated catalog crawls (``/registry/participants``). The
trusted-issuers list (``/registry/trusted-issuers``, EBSI-TIR shaped) follows from it: the
authority is the root for membership, participant and auditor credentials, and every active
civic member may issue ConsentCredential (residents consent through their group).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector.http.context import CTX
from connector.trust.tables import members
from identity import TrustedIssuersList

AUTHORITY_TYPES = ["MembershipCredential", "ParticipantCredential", "AuditorCredential"]
CIVIC_TYPES = ["ConsentCredential"]


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class Registry:
    def __init__(self, engine: AsyncEngine, authority_did: str) -> None:
        self._engine = engine
        self.authority_did = authority_did

    async def add(
        self,
        conn: AsyncConnection,
        *,
        did: str,
        name: str,
        role: str,
        country: str,
        dsp_endpoint: str | None,
        request_id: str,
    ) -> None:
        """Admit (or re-admit after a revocation) a member."""
        now = datetime.now(UTC)
        values = {
            "name": name,
            "role": role,
            "country": country,
            "dsp_endpoint": dsp_endpoint,
            "state": "active",
            "request_id": request_id,
            "joined_at": now,
            "revoked_at": None,
        }
        existing = (await conn.execute(select(members.c.did).where(members.c.did == did))).first()
        if existing is None:
            await conn.execute(members.insert().values(did=did, **values))
        else:
            await conn.execute(update(members).where(members.c.did == did).values(**values))

    async def mark_revoked(self, conn: AsyncConnection, did: str) -> bool:
        result = await conn.execute(
            update(members)
            .where(members.c.did == did, members.c.state.in_(("active", "suspended")))
            .values(state="revoked", revoked_at=datetime.now(UTC))
        )
        return bool(result.rowcount)

    async def move(self, conn: AsyncConnection, did: str, old: str, new: str) -> bool:
        """Change a member's state from ``old`` to ``new`` (active <-> suspended)."""
        result = await conn.execute(
            update(members).where(members.c.did == did, members.c.state == old).values(state=new)
        )
        return bool(result.rowcount)

    async def get(self, did: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(members).where(members.c.did == did))).first()
        return None if row is None else self._json(row._mapping)

    async def list(self, *, active_only: bool = True) -> list[dict[str, Any]]:
        stmt = select(members).order_by(members.c.joined_at)
        if active_only:
            stmt = stmt.where(members.c.state == "active")
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [self._json(r._mapping) for r in rows]

    @staticmethod
    def _json(row: Any) -> dict[str, Any]:
        return {
            "did": row["did"],
            "name": row["name"],
            "role": row["role"],
            "country": row["country"],
            "dspEndpoint": row["dsp_endpoint"],
            "state": row["state"],
            "joinedAt": _iso(row["joined_at"]),
            **({"revokedAt": _iso(row["revoked_at"])} if row["revoked_at"] else {}),
        }

    async def trusted_issuers(self) -> TrustedIssuersList:
        trusted = TrustedIssuersList()
        trusted.add(self.authority_did, AUTHORITY_TYPES, issuer_type="RootTAO")
        for member in await self.list():
            if member["role"] == "civic":
                trusted.add(
                    member["did"], CIVIC_TYPES, issuer_type="TI", accredited_by=self.authority_did
                )
        return trusted


async def get_participants(request: web.Request) -> web.Response:
    """GET /registry/participants: active members (public; the federated catalog crawls it)."""
    registry: Registry = request.app[CTX].components["trust"].registry
    listed = [
        {k: m[k] for k in ("did", "name", "role", "country", "dspEndpoint", "joinedAt")}
        for m in await registry.list()
    ]
    return web.json_response({"authority": registry.authority_did, "participants": listed})


async def get_trusted_issuers(request: web.Request) -> web.Response:
    """GET /registry/trusted-issuers: who may issue which credential types (public)."""
    registry: Registry = request.app[CTX].components["trust"].registry
    return web.json_response((await registry.trusted_issuers()).to_json())
