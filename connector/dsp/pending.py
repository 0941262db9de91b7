"""Decisions DSP leaves to a participant's own application, and who is told one is waiting.

The protocol has states where a participant decides: the provider whether to agree, to answer
with its offer, to finalize a verified agreement, to start a requested transfer; the consumer
whether to accept an offer and to verify an agreement. Each is ``automatic`` or ``manual``: per
offer (the provider's), per negotiation request (the consumer's), else the connector-wide
default of ``[dsp.decisions]``. A manual decision leaves the process in its state with
``pending_decision`` set until the operator approves or declines it (management API
``/decisions``) or the timeout policy takes it.

:class:`DecisionBoard` tells whoever listens that a decision is waiting: the server-sent event
streams open on this replica and the operator's webhook. Telling is best-effort and happens
after commit; the queue itself is the database, so nothing is lost when nobody listens.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

from connector.dsp.settings import DecisionSettings

AGREE = "agree"
OFFER = "offer"
FINALIZE = "finalize"
START = "startTransfer"
ACCEPT = "acceptOffer"
VERIFY = "verify"
PROVIDER_DECISIONS = (AGREE, OFFER, FINALIZE, START)
CONSUMER_DECISIONS = (ACCEPT, VERIFY)
_FIELD = {
    AGREE: "agree",
    OFFER: "offer",
    FINALIZE: "finalize",
    START: "start_transfer",
    ACCEPT: "accept_offer",
    VERIFY: "verify",
}
MANUAL = "manual"


class NotPending(Exception):
    """The process waits for no decision (or not for this one): nothing to approve."""


def choices_of(stored: str | None) -> dict[str, str]:
    """The per-offer or per-negotiation choices stored as JSON (bad JSON: none)."""
    if not stored:
        return {}
    try:
        found = json.loads(stored)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def is_manual(defaults: DecisionSettings, stored: str | None, decision: str) -> bool:
    """Does ``decision`` wait for the operator, given a process's stored choices?"""
    choice = choices_of(stored).get(decision) or getattr(defaults, _FIELD[decision])
    return choice == MANUAL


def pending_view(kind: str, row: Any) -> dict[str, Any]:
    """A waiting decision as the management API and the notifications show it."""
    since = row.pending_since
    return {
        "id": row.pid,
        "process": kind,
        "decision": row.pending_decision,
        "role": row.role,
        "state": row.state,
        "providerPid": row.provider_pid,
        "consumerPid": row.consumer_pid,
        "counterPartyId": row.counterparty_did,
        "since": since.isoformat() if since is not None else None,
    }


class DecisionBoard:
    """In-process listeners (server-sent event streams) and the webhook."""

    def __init__(
        self,
        post: Callable[[str, dict[str, Any]], Any] | None = None,
        webhook: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self._streams: set[asyncio.Queue[dict[str, Any]]] = set()
        self._post = post
        self.webhook = webhook
        self._log = log or logging.getLogger("agora.dsp")
        self._tasks: set[asyncio.Task[None]] = set()

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._streams.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._streams.discard(queue)

    def waiting(self, view: dict[str, Any]) -> None:
        """A decision started waiting (called after its transaction committed)."""
        for queue in list(self._streams):
            try:
                queue.put_nowait(view)
            except asyncio.QueueFull:  # a stream nobody reads: it misses events, not memory
                self._log.warning("dsp: a decision event stream is not being read")
        if self._post is not None and self.webhook:
            task = asyncio.ensure_future(self._notify(view))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _notify(self, view: dict[str, Any]) -> None:
        assert self._post is not None and self.webhook
        try:
            await self._post(self.webhook, {"type": "DecisionWaiting", **view})
        except Exception as exc:  # best-effort: the queue is in the database
            self._log.warning("dsp: decision webhook %s failed: %s", self.webhook, exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
