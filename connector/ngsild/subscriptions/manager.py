"""The subscriptions' runtime: which subscriptions exist, which change triggers which, when the
periodic ones are due, and handing notifications to the :class:`Notifier`.

The SQL table is the truth; this process keeps a compiled copy, updated at once by its own API
calls and reloaded every few seconds so that subscriptions created through another replica
(sharing the PostgreSQL database) take effect too. Each replica notifies for the changes it
publishes, so no change is notified twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from connector.ngsild.context import REMOTE_DOCUMENTS
from connector.ngsild.errors import NgsiError
from connector.ngsild.events import ChangeEvent
from connector.ngsild.model import now_iso
from connector.ngsild.remote_context import RemoteContexts
from connector.ngsild.service import Broker
from connector.ngsild.subscriptions.compiled import Compiled
from connector.ngsild.subscriptions.delivery import Delivery, Notifier
from connector.ngsild.subscriptions.guard import NotificationGuard
from connector.ngsild.subscriptions.store import StoredSubscription, SubscriptionStore
from connector.ngsild.temporal.times import now_utc, parse_time

log = logging.getLogger("agora.ngsild.subscriptions")
PERIODIC_LIMIT = 1000


class SubscriptionManager:
    def __init__(
        self,
        store: SubscriptionStore,
        notifier: Notifier,
        broker: Broker,
        guard: Callable[[], NotificationGuard | None] = lambda: None,
        remote: Callable[[], RemoteContexts | None] = lambda: None,
    ) -> None:
        self.store = store
        self.remote = remote
        self.notifier = notifier
        self.broker = broker
        self.guard = guard
        self.compiled: dict[str, Compiled] = {}
        self._last_sent: dict[str, float] = {}
        self._last_periodic: dict[str, float] = {}

    # -- cache ---------------------------------------------------------------------------

    def put(self, stored: StoredSubscription) -> None:
        try:
            self.compiled[stored.id] = Compiled(stored)
        except Exception:  # a document valid when stored but no longer compilable
            log.exception("subscription %s cannot be compiled; ignored", stored.id)
            self.compiled.pop(stored.id, None)

    async def _put_fetching(self, stored: StoredSubscription) -> None:
        """Compile outside a request (start, replicas): a remote @context from the operator's
        allow-list is fetched (or taken from the cache) first, as a request would have."""
        remote = self.remote()
        if remote is None:
            self.put(stored)
            return
        try:
            fetched = await remote.prefetch([stored.doc.get("@context")])
        except NgsiError as exc:
            log.warning("subscription %s: its @context is unavailable: %s", stored.id, exc)
            fetched = {}
        token = REMOTE_DOCUMENTS.set(fetched)
        try:
            self.put(stored)
        finally:
            REMOTE_DOCUMENTS.reset(token)

    def drop(self, sub_id: str) -> None:
        self.compiled.pop(sub_id, None)
        self._last_sent.pop(sub_id, None)
        self._last_periodic.pop(sub_id, None)

    async def reload(self) -> None:
        rows = await self.store.all()
        seen = set()
        for stored in rows:
            seen.add(stored.id)
            known = self.compiled.get(stored.id)
            if known is None or known.stored.modified_at != stored.modified_at:
                await self._put_fetching(stored)
            else:
                known.stored = stored  # fresh counters, same compiled form
        for sub_id in list(self.compiled):
            if sub_id not in seen:
                self.drop(sub_id)

    # -- triggers ------------------------------------------------------------------------

    async def on_change(self, event: ChangeEvent) -> None:
        """ChangeFeed listener: match and enqueue only; delivery happens in the workers."""
        if not self.compiled:
            return
        now = now_utc()
        for sub in list(self.compiled.values()):
            if sub.status(now) != "active":
                continue
            try:
                if not sub.matches_event(event):
                    continue
            except Exception:
                log.exception("matching subscription %s failed", sub.id)
                continue
            if not await self._allowed(sub) or not self._throttle_ok(sub):
                continue
            at = now_iso()
            if event.kind == "delete":
                assert event.before is not None
                data = [sub.render_deleted(event.before, at)]
                reason = "entityDeleted"
            else:
                assert event.after is not None
                data = [sub.render(event.after, event.before)]
                reason = "newlyMatching" if event.kind == "create" else "updated"
            self.notify(sub, data, at, reason)

    async def _allowed(self, sub: Compiled) -> bool:
        guard = self.guard()
        if guard is None:
            return True
        try:
            return await guard.allow(sub.id, sub.stored.owner, sub.scope)
        except Exception:  # fail closed: no decision, no notification
            log.exception("the notification guard failed for %s", sub.id)
            return False

    def _throttle_ok(self, sub: Compiled) -> bool:
        if sub.throttling <= 0:
            return True
        now = time.monotonic()
        last = self._last_sent.get(sub.id)
        if last is not None and now - last < sub.throttling:
            return False
        # the persisted time of the last notification covers restarts and other replicas
        stored = sub.stored.last_notification
        if (
            stored is not None
            and (now_utc() - parse_time(stored, "lastNotification")).total_seconds()
            < sub.throttling
        ):
            return False
        self._last_sent[sub.id] = now
        return True

    def notify(
        self, sub: Compiled, data: list[dict[str, Any]], at: str, reason: str | None = None
    ) -> None:
        payload: dict[str, Any] = {
            "id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
            "type": "Notification",
            "subscriptionId": sub.id,
            "notifiedAt": at,
            "data": (
                {"type": "FeatureCollection", "features": data}
                if sub.accept == "application/geo+json"
                else data
            ),
        }
        if reason is not None:
            payload["triggerReason"] = reason
        if sub.accept == "application/ld+json":
            payload["@context"] = sub.context
        self.notifier.enqueue(
            Delivery(
                subscription_id=sub.id,
                uri=sub.endpoint_uri,
                accept=sub.accept,
                link_url=sub.link_url,
                receiver_info=sub.receiver_info,
                notifier_info=sub.notifier_info,
                payload=payload,
                timeout=sub.timeout,
            )
        )

    async def periodic_tick(self) -> None:
        """Notify every due timeInterval subscription of the current state of its entities."""
        now = now_utc()
        clock = time.monotonic()
        for sub in list(self.compiled.values()):
            if sub.interval is None or sub.status(now) != "active":
                continue
            last = self._last_periodic.get(sub.id)
            if last is not None and clock - last < sub.interval:
                continue
            self._last_periodic[sub.id] = clock
            try:
                docs = await self.current_entities(sub)
            except Exception:
                log.exception("periodic query of subscription %s failed", sub.id)
                continue
            if docs and await self._allowed(sub):
                self.notify(sub, [sub.render(d) for d in docs], now_iso())

    async def current_entities(self, sub: Compiled) -> list[dict[str, Any]]:
        from connector.ngsild.api.params import Selection, plan_for

        found: dict[str, dict[str, Any]] = {}
        for raw in sub.stored.doc.get("entities", []):
            sel = Selection(
                ids=[raw["id"]] if "id" in raw else None,
                id_pattern=raw.get("idPattern"),
                types=raw["type"],
            )
            plan = plan_for(
                sel, {"limit": str(PERIODIC_LIMIT)}, sub.tm, sub.scope, require_filter=False
            )
            docs, _ = await self.broker.query(plan)
            for doc in docs:
                if doc["id"] not in found and sub.matches_entity(doc):
                    found[doc["id"]] = doc
        return list(found.values())

    # -- loops (owned by the connector's TaskGroup) --------------------------------------

    async def run_periodic(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await self.periodic_tick()

    async def run_reload(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.reload()
            except Exception:
                log.exception("reloading subscriptions failed")

    async def record(self, sub_id: str, ok: bool) -> None:
        at = now_iso()
        await self.store.record(sub_id, at, ok)
        sub = self.compiled.get(sub_id)
        if sub is not None:
            s = sub.stored
            s.times_sent += 1
            s.last_notification = at
            if ok:
                s.last_success = at
            else:
                s.times_failed += 1
                s.last_failure = at
