"""In-process change feed: what subscriptions and the temporal store listen to.

The service publishes one :class:`ChangeEvent` per created, updated or deleted entity, only
after the transaction that made the change committed, so a listener never sees a change that
was rolled back. Listeners are awaited in order; a failing listener is logged and does not
affect the request or the other listeners. Listeners should be quick (enqueue, then work in a
background task) because the HTTP answer waits for them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection

Kind = Literal["create", "update", "delete"]
Listener = Callable[["ChangeEvent"], Awaitable[None]]
BatchListener = Callable[[list["ChangeEvent"]], Awaitable[None]]
#: called inside the broker's write transaction with its (synchronous) SQLAlchemy Connection
TransactionListener = Callable[[Connection, list["ChangeEvent"]], None]
log = logging.getLogger("agora.ngsild.events")


@dataclass(frozen=True)
class ChangeEvent:
    """One entity's change. ``before``/``after`` are the stored form (normalized, expanded
    names; see :mod:`connector.ngsild.model`), None when the entity did not / no longer
    exist(s)."""

    kind: Kind
    entity_id: str
    entity_types: tuple[str, ...]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_attributes: frozenset[str]
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def changed_attributes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> frozenset[str]:
    """Expanded names of attributes added, removed or changed between two stored forms."""
    b = before or {}
    a = after or {}
    names = {k for k in b if ":" in k} | {k for k in a if ":" in k}
    return frozenset(n for n in names if b.get(n) != a.get(n))


def event_for(before: dict[str, Any] | None, after: dict[str, Any] | None) -> ChangeEvent:
    doc = after if after is not None else before
    assert doc is not None
    kind: Kind = "create" if before is None else "delete" if after is None else "update"
    return ChangeEvent(
        kind=kind,
        entity_id=doc["id"],
        entity_types=tuple(doc.get("type", [])),
        before=before,
        after=after,
        changed_attributes=changed_attributes(before, after),
    )


class ChangeFeed:
    """A small publish/subscribe hub; ``subscribe`` returns a function that unsubscribes."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._batch_listeners: list[BatchListener] = []
        self._tx_listeners: list[TransactionListener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    async def publish(self, event: ChangeEvent) -> None:
        for listener in list(self._listeners):
            try:
                await listener(event)
            except Exception:  # a listener's failure is its own, never the writer's
                log.exception("change listener failed for %s", event.entity_id)

    def subscribe_batch(self, listener: BatchListener) -> Callable[[], None]:
        """Hear all events of one committed transaction in one call (e.g. to store them in
        one transaction of one's own: the broker group-commits concurrent writes)."""
        self._batch_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._batch_listeners:
                self._batch_listeners.remove(listener)

        return unsubscribe

    def subscribe_in_transaction(self, listener: TransactionListener) -> Callable[[], None]:
        """Write one's own rows atomically with the change (e.g. attribute history).

        The listener runs synchronously inside the broker's write transaction (on its writer
        thread for SQLite), before the commit: it must only add rows to its own tables, stay
        quick, and raise only to abort the whole write."""
        self._tx_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._tx_listeners:
                self._tx_listeners.remove(listener)

        return unsubscribe

    def in_transaction(self, conn: Connection, events: list[ChangeEvent]) -> None:
        """Called by the broker before it commits ``events``."""
        for listener in list(self._tx_listeners):
            listener(conn, events)

    async def publish_all(self, events: list[ChangeEvent]) -> None:
        if not events:
            return
        for batch_listener in list(self._batch_listeners):
            try:
                await batch_listener(events)
            except Exception:  # a listener's failure is its own, never the writer's
                log.exception("change listener failed for %d events", len(events))
        if not self._listeners:
            return
        for event in events:
            await self.publish(event)
