"""Notifications of subscriptions made with an access token stay under their agreement.

A subscription outlives the request that created it. The subscriptions engine asks
``ctx.components["ngsild.notification_guard"]`` before every notification; this guard answers
for subscriptions created with a transfer access token (their binding to agreement and transfer
is stored when the PEP permits the creation): the transfer must still be STARTED (read from the
database, as for requests), the agreement must still permit ``read`` now (time windows, purpose
as declared when subscribing), a ``count`` unit is consumed per notification, and each decision
is a provenance record (kind ``access``, operation ``notification``). The purpose is the
``Agora-Purpose`` declared when subscribing. No binding — e.g. a
subscription made by someone other than the owner before this component existed — means no
notification (fail closed). The owner's own subscriptions (admin key) are not restricted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.access_tokens import AccessDenied, TransferGrant
from connector.enforcement.access import Access, Refusal
from connector.enforcement.tables import subscriptions
from connector.ngsild.pep import AccessScope

if TYPE_CHECKING:
    from connector.enforcement.agreements import AgreementCache, ScopeLimits
    from connector.enforcement.evidence import Evidence


class Deciding(Protocol):
    """What the guard needs of the enforcement point: its evidence, its agreements, and a
    decision outside an HTTP request."""

    evidence: Evidence
    agreements: AgreementCache

    async def authorize(
        self,
        access: Access,
        limits: ScopeLimits,
        types: frozenset[str] | None,
        attrs: frozenset[str] | None,
        purpose: str | None,
    ) -> None: ...


@dataclass(frozen=True)
class Binding:
    agreement_id: str
    transfer_id: str
    consumer_did: str
    purpose: str | None = None


class AgreementNotificationGuard:
    def __init__(self, pep: Deciding, engine: AsyncEngine) -> None:
        self.pep = pep
        self.engine = engine
        self._bindings: dict[str, Binding] = {}

    async def bind(
        self, subscription_id: str, grant: TransferGrant, purpose: str | None = None
    ) -> None:
        binding = Binding(grant.agreement_id, grant.transfer_id, grant.consumer_did, purpose)
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(subscriptions).values(
            subscription_id=subscription_id,
            agreement_id=binding.agreement_id,
            transfer_id=binding.transfer_id,
            consumer_did=binding.consumer_did,
            purpose=purpose,
        )
        async with self.engine.begin() as conn:
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=["subscription_id"]))
        self._bindings[subscription_id] = binding

    def forget(self, subscription_id: str) -> None:
        """Drop the cached binding of a deleted subscription (its row is gone already)."""
        self._bindings.pop(subscription_id, None)

    async def _binding(self, subscription_id: str) -> Binding | None:
        found = self._bindings.get(subscription_id)
        if found is not None:
            return found
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(subscriptions).where(subscriptions.c.subscription_id == subscription_id)
                )
            ).first()
        if row is None:
            return None
        found = self._bindings[subscription_id] = Binding(
            row.agreement_id, row.transfer_id, row.consumer_did, row.purpose
        )
        return found

    async def allow(self, subscription_id: str, owner: str, restriction: AccessScope) -> bool:
        if not owner or owner == self.pep.evidence.provider_did:
            return True  # the owner's own subscription
        binding = await self._binding(subscription_id)
        if binding is None:
            return False
        agreement = await self.pep.agreements.by_id(binding.agreement_id)
        if agreement is None:
            return False
        grant = TransferGrant(
            binding.agreement_id, binding.transfer_id, binding.consumer_did, {}, agreement.target, 0
        )
        access = Access(grant, agreement, "notification", "read", scope=restriction)
        digest = hashlib.sha256(f"NOTIFY\0{subscription_id}".encode()).hexdigest()
        limits = agreement.limits("read")
        try:
            if limits is None:
                raise Refusal("denied — no permission of this agreement covers 'read'")
            await self.pep.authorize(
                access, limits, restriction.entity_types, restriction.attributes, binding.purpose
            )
        except AccessDenied:
            return False  # the transfer is no longer STARTED: silent, like a 401
        except Refusal as refusal:
            access.reason = refusal.text
            await self.pep.evidence.write(access, digest, {"status": 403, "detail": refusal.text})
            return False
        access.decision = "permit"
        await self.pep.evidence.write(
            access, digest, {"status": 200, "subscription": subscription_id}
        )
        return True
