"""The issuance requests this participant made, persisted (holder side of DCP issuance).

In DCP an issuer writes credentials to the holder's Credential Service *in answer to a request
the holder made*. Without that record, anyone trusted to issue something could store anything
about us, and one credential we never asked for (say a MembershipCredential from an issuer
accredited only for consent) is then presented and makes every verifier refuse us. So the
connector records each request before sending it (an auto-approving issuer delivers while the
request is still in flight), and the storage endpoint accepts a credential only against a
pending request for that issuer and type; the delivery closes the request in the same
transaction that stores the credentials.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from connector.trust.tables import issuance_requests

#: What an authority issues on admission, by the applicant's role (see connector.trust.authority).
MEMBER_TYPES = ("MembershipCredential", "ParticipantCredential")
ROLE_TYPES: dict[str, tuple[str, ...]] = {"auditor": ("AuditorCredential",)}


def membership_types(role: str) -> list[str]:
    """The credential types a member in ``role`` asks its authority for."""
    return [*MEMBER_TYPES, *ROLE_TYPES.get(role, ())]


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class IssuanceRequests:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def open(self, issuer: str, credential_types: Iterable[str]) -> str:
        """Record a new pending request to ``issuer``."""
        request_id = uuid.uuid4().hex
        now = datetime.now(UTC)
        async with self._engine.begin() as conn:
            await conn.execute(
                issuance_requests.insert().values(
                    id=request_id,
                    issuer=issuer,
                    credential_types=json.dumps(sorted(set(credential_types))),
                    state="pending",
                    created_at=now,
                    closed_at=None,
                )
            )
        return request_id

    async def supersede(self, issuer: str, keep: str) -> None:
        """Cancel the other pending requests to ``issuer`` once it accepted ``keep``."""
        async with self._engine.begin() as conn:
            await conn.execute(
                update(issuance_requests)
                .where(
                    issuance_requests.c.issuer == issuer,
                    issuance_requests.c.state == "pending",
                    issuance_requests.c.id != keep,
                )
                .values(state="cancelled", closed_at=datetime.now(UTC))
            )

    async def cancel(self, request_id: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(
                update(issuance_requests)
                .where(issuance_requests.c.id == request_id, issuance_requests.c.state == "pending")
                .values(state="cancelled", closed_at=datetime.now(UTC))
            )

    async def match(
        self, issuer: str, credential_types: Iterable[str], holder_pid: str | None = None
    ) -> str | None:
        """The pending request of ours to ``issuer`` that asked for all these types (and has
        id ``holder_pid`` when the issuer names one), else None."""
        wanted = set(credential_types)
        stmt = (
            select(issuance_requests.c.id, issuance_requests.c.credential_types)
            .where(issuance_requests.c.issuer == issuer, issuance_requests.c.state == "pending")
            .order_by(issuance_requests.c.created_at.desc())
        )
        if holder_pid is not None:
            stmt = stmt.where(issuance_requests.c.id == holder_pid)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        for row in rows:
            if wanted <= set(json.loads(row.credential_types)):
                return str(row.id)
        return None

    @staticmethod
    async def fulfil(conn: AsyncConnection, request_id: str) -> bool:
        """Close a pending request inside the caller's transaction; False if it was no longer
        pending (a concurrent delivery won), so the caller rolls back."""
        result = await conn.execute(
            update(issuance_requests)
            .where(issuance_requests.c.id == request_id, issuance_requests.c.state == "pending")
            .values(state="fulfilled", closed_at=datetime.now(UTC))
        )
        return bool(result.rowcount)

    async def list(self) -> list[dict[str, Any]]:
        async with self._engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(issuance_requests).order_by(issuance_requests.c.created_at)
                )
            ).all()
        return [
            {
                "id": r.id,
                "issuer": r.issuer,
                "credentialTypes": json.loads(r.credential_types),
                "state": r.state,
                "createdAt": _iso(r.created_at),
                "closedAt": _iso(r.closed_at),
            }
            for r in rows
        ]
