"""The participant's wallet: VC-JWTs issued to it, kept in SQL so every replica presents them.

Credentials are verified when they arrive (see :mod:`connector.trust.credential_service_api`)
and stored only against an issuance request of ours. What is stored is what the holder will
present, with the facts an operator asks about first: the type, the issuer, the status entries
and until when the credential is valid; the owner lists and deletes them (management API).
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.trust.issuance_requests import IssuanceRequests
from connector.trust.tables import credentials
from identity import VerifiedCredential
from identity.credential_types import CREDENTIAL_TYPES


def agora_type(vc: VerifiedCredential) -> str:
    """The type a person would name the credential by (Agora's, else the most specific)."""
    for type_ in vc.types:
        if type_ in CREDENTIAL_TYPES:
            return type_
    others = [t for t in vc.types if t != "VerifiableCredential"]
    return others[-1] if others else "VerifiableCredential"


class StoreRefused(Exception):
    """The delivery cannot be stored as a whole; nothing was written."""


class CredentialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_all(
        self, received: list[tuple[VerifiedCredential, str]], *, fulfils: str | None = None
    ) -> None:
        """Store credentials in one transaction (all or none) and close the issuance request
        ``fulfils`` in it. A re-delivery by the same issuer replaces; an id already held from
        another issuer is refused (an issuer may not overwrite someone else's credential)."""
        now = datetime.now(UTC)
        ids = [vc.id or "" for vc, _ in received]
        issuers = {vc.id: vc.issuer for vc, _ in received}
        async with self._engine.begin() as conn:
            held = (
                await conn.execute(
                    select(credentials.c.id, credentials.c.issuer).where(credentials.c.id.in_(ids))
                )
            ).all()
            for row in held:
                if row.issuer != issuers.get(row.id):
                    raise StoreRefused(f"a credential {row.id} from another issuer is held")
            if fulfils is not None and not await IssuanceRequests.fulfil(conn, fulfils):
                raise StoreRefused(f"issuance request {fulfils} is no longer pending")
            await conn.execute(delete(credentials).where(credentials.c.id.in_(ids)))
            for vc, token in received:
                await conn.execute(
                    insert(credentials).values(
                        id=vc.id,
                        type=agora_type(vc),
                        issuer=vc.issuer,
                        status=json.dumps(list(vc.status)),
                        valid_until=vc.valid_until,
                        jwt=token,
                        received_at=now,
                    )
                )

    async def delete(self, credential_id: str) -> bool:
        """The owner removes a stored credential; False if there was none with that id."""
        async with self._engine.begin() as conn:
            result = await conn.execute(
                delete(credentials).where(credentials.c.id == credential_id)
            )
        return bool(result.rowcount)

    async def get(self, credential_id: str) -> dict[str, Any] | None:
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(select(credentials).where(credentials.c.id == credential_id))
            ).first()
        return None if row is None else {**self._summary(row), "jwt": row.jwt}

    async def jwts(self) -> list[str]:
        """Every credential still within its validity period, for presentations."""
        now = time.time()
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(credentials.c.jwt, credentials.c.valid_until))).all()
        return [r.jwt for r in rows if r.valid_until is None or r.valid_until > now]

    async def summaries(self) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(select(credentials).order_by(credentials.c.received_at))
            ).all()
        return [self._summary(r) for r in rows]

    @staticmethod
    def _summary(r: Any) -> dict[str, Any]:
        return {
            "id": r.id,
            "type": r.type,
            "issuer": r.issuer,
            "status": json.loads(r.status),
            "validUntil": r.valid_until,
            "receivedAt": r.received_at.isoformat()
            if isinstance(r.received_at, datetime)
            else str(r.received_at),
        }

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return len((await conn.execute(select(credentials.c.id))).all())
