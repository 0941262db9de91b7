"""PUSH transfers as NGSI-LD subscriptions that stay under their agreement.

Installed into the DSP's :class:`~connector.dsp.push.PushProvisioner` seam by the enforcement
component when the embedded subscriptions engine runs. On the provider, for a transfer of format
``NGSI-LD-PUSH``:

* **start** creates subscription ``urn:ngsi-ld:Subscription:push:<transfer id>`` on the
  dataset's scope as the agreement narrows it for ``read`` (entity types, attributes, area),
  notifying the endpoint of the consumer's ``dataAddress`` (already checked by DSP against
  ``security.allowed_callback_hosts``, with loopback in development mode; the subscription's
  own validation and every delivery check it again). It is owned by the
  consumer's DID and bound to agreement and transfer exactly like a subscription made with an
  access token, so :class:`AgreementNotificationGuard` decides every notification like a pull:
  transfer still STARTED, terms met now, ``count`` units consumed, provenance recorded. A
  **resume** re-activates the same subscription.
* **suspension** pauses it (``isActive`` false, status ``paused``); **completion** and
  **termination** delete it and its binding.

Every change is written with the DSP transaction's connection, so it commits with the transfer's
new state; the engine's in-memory copy is updated right after the commit. (The guard reads the
transfer state before each notification as well, so even a replica whose copy is a few seconds
old notifies nothing for a suspended transfer.)

Endpoint properties the consumer may give in its ``dataAddress``: ``authorization`` (sent as the
``Authorization`` header of each notification, so the consumer can tell our notifications from
anyone else's) and ``purpose`` (the purpose the consumer declares for the data, as the
``Agora-Purpose`` header does for pulls).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select, update

from connector.dsp import messages as m
from connector.dsp.push import PushRefused, PushTransfer
from connector.dsp.runtime import after_commit
from connector.dsp.tables import agreements, datasets
from connector.dsp.transfer_states import TState
from connector.enforcement.agreements import compile_agreement, expand
from connector.enforcement.notifications import AgreementNotificationGuard
from connector.enforcement.tables import subscriptions as bindings
from connector.ngsild.context import CORE_URL
from connector.ngsild.errors import NgsiError
from connector.ngsild.model import now_iso
from connector.ngsild.pep import AccessScope
from connector.ngsild.subscriptions.endpoints import EndpointRules
from connector.ngsild.subscriptions.manager import SubscriptionManager
from connector.ngsild.subscriptions.model import validate
from connector.ngsild.subscriptions.store import StoredSubscription, from_row, scope_to_json
from connector.ngsild.subscriptions.tables import subscriptions
from connector.storage.inline import Conn

S = subscriptions.c
PREFIX = "urn:ngsi-ld:Subscription:push:"


def subscription_id(transfer_id: str) -> str:
    return PREFIX + transfer_id


class SubscriptionPush:
    """The PUSH provisioner backed by the NGSI-LD subscriptions engine."""

    def __init__(
        self,
        manager: SubscriptionManager,
        guard: AgreementNotificationGuard,
        rules: EndpointRules,
    ) -> None:
        self.manager = manager
        self.guard = guard
        self.rules = rules

    async def started(self, conn: Conn, transfer: PushTransfer) -> None:
        sub_id = subscription_id(transfer.transfer_id)
        row = (await conn.execute(select(subscriptions).where(S.id == sub_id))).first()
        if row is not None:  # a resume: the same subscription, active again
            await self._set_active(conn, from_row(row), True)
            return
        doc, scope = await self._document(conn, transfer, sub_id)
        at = now_iso()
        stored = StoredSubscription(
            doc=doc, restriction=scope, owner=transfer.consumer_did, created_at=at, modified_at=at
        )
        await conn.execute(
            insert(subscriptions).values(
                id=sub_id,
                doc=json.dumps(doc),
                restriction=scope_to_json(scope),
                owner=transfer.consumer_did,
                created_at=at,
                modified_at=at,
                expires_at=None,
                times_sent=0,
                times_failed=0,
            )
        )
        purpose = m.endpoint_properties(transfer.endpoint).get("purpose")
        await conn.execute(delete(bindings).where(bindings.c.subscription_id == sub_id))
        await conn.execute(
            insert(bindings).values(
                subscription_id=sub_id,
                agreement_id=transfer.agreement_id,
                transfer_id=transfer.transfer_id,
                consumer_did=transfer.consumer_did,
                purpose=purpose,
            )
        )
        after_commit(conn, lambda: self.manager.put(stored))

    async def stopped(self, conn: Conn, transfer_id: str, state: str) -> None:
        sub_id = subscription_id(transfer_id)
        if state == TState.SUSPENDED.value:
            row = (await conn.execute(select(subscriptions).where(S.id == sub_id))).first()
            if row is not None:
                await self._set_active(conn, from_row(row), False)
            return
        await conn.execute(delete(subscriptions).where(S.id == sub_id))
        await conn.execute(delete(bindings).where(bindings.c.subscription_id == sub_id))

        def forget() -> None:
            self.manager.drop(sub_id)
            self.guard.forget(sub_id)

        after_commit(conn, forget)

    async def _set_active(self, conn: Conn, stored: StoredSubscription, active: bool) -> None:
        stored.doc["isActive"] = active
        stored.modified_at = now_iso()
        await conn.execute(
            update(subscriptions)
            .where(S.id == stored.id)
            .values(doc=json.dumps(stored.doc), modified_at=stored.modified_at)
        )
        after_commit(conn, lambda: self.manager.put(stored))

    async def _document(
        self, conn: Conn, transfer: PushTransfer, sub_id: str
    ) -> tuple[dict[str, Any], AccessScope]:
        """The subscription document and its restriction: the agreement's ``read`` scope."""
        found = (
            await conn.execute(
                select(agreements.c.agreement, agreements.c.target).where(
                    agreements.c.id == transfer.agreement_id
                )
            )
        ).first()
        if found is None:
            raise PushRefused("no agreement under this id")
        dataset = (
            await conn.execute(select(datasets).where(datasets.c.id == found.target))
        ).first()
        if dataset is None:
            raise PushRefused("the agreement's dataset no longer exists")
        compiled = compile_agreement(
            transfer.agreement_id, found.target, json.loads(found.agreement), dataset
        )
        limits = compiled.limits("read")
        if limits is None:
            raise PushRefused("the agreement permits no 'read': nothing may be pushed")
        if not limits.types:
            raise PushRefused("the agreement leaves no entity type of the dataset to push")
        names = {expand(n): n for n in json.loads(dataset.entity_types)}
        names.update(limits.policy_form)
        props = m.endpoint_properties(transfer.endpoint)
        endpoint: dict[str, Any] = {
            "uri": transfer.endpoint.get("endpoint"),
            "accept": "application/json",
        }
        if props.get("authorization"):
            endpoint["receiverInfo"] = [{"key": "Authorization", "value": props["authorization"]}]
        raw = {
            "id": sub_id,
            "type": "Subscription",
            "description": f"DSP push transfer {transfer.transfer_id}",
            "entities": [{"type": names.get(t, t)} for t in sorted(limits.types)],
            "notification": {"endpoint": endpoint, "format": "normalized"},
        }
        try:
            doc = validate(raw, self.rules, creating=True)
        except NgsiError as exc:
            raise PushRefused(f"the push subscription is not valid: {exc.detail}") from None
        doc["@context"] = CORE_URL
        scope = AccessScope(
            entity_types=limits.types,
            attributes=limits.attributes,
            area=limits.area,
            may_write=False,
        )
        return doc, scope
