"""The participant's wallet: VC-JWTs issued to it, kept in SQL so every replica presents them.

Credentials are verified when they arrive (see :mod:`connector.trust.credential_service_api`);
what is stored is what the holder will present, with the facts an operator asks about first:
the type, the issuer, the status entries and until when the credential is valid.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

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


class CredentialStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add_all(self, received: list[tuple[VerifiedCredential, str]]) -> None:
        """Store credentials in one transaction (all or none); a re-delivery replaces."""
        now = datetime.now(UTC)
        ids = [vc.id or "" for vc, _ in received]
        async with self._engine.begin() as conn:
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
        return [
            {
                "id": r.id,
                "type": r.type,
                "issuer": r.issuer,
                "status": json.loads(r.status),
                "validUntil": r.valid_until,
                "receivedAt": r.received_at.isoformat()
                if isinstance(r.received_at, datetime)
                else str(r.received_at),
            }
            for r in rows
        ]

    async def count(self) -> int:
        async with self._engine.connect() as conn:
            return len((await conn.execute(select(credentials.c.id))).all())
