"""Sending notifications: HTTP(S) POSTs and MQTT(S) publications, with timeouts and retries.

Deliveries are queued and sent by a few worker tasks owned by the connector, so the request
that changed an entity never waits for a subscriber's endpoint. Every attempt is counted in
the subscription's ``timesSent``/``lastSuccess``/``lastFailure`` once its retries are over.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiomqtt

from connector.ngsild.context import link_header
from connector.ngsild.subscriptions.endpoints import (
    EndpointRules,
    Target,
    check_endpoint,
    check_resolved,
)
from connector.outbound import PeerHttp

log = logging.getLogger("agora.ngsild.notify")
JSON = "application/json"
JSONLD = "application/ld+json"


@dataclass(frozen=True)
class Delivery:
    """One notification to send: where, how, and what."""

    subscription_id: str
    uri: str
    accept: str
    link_url: str
    receiver_info: list[dict[str, str]]
    notifier_info: dict[str, str]
    payload: dict[str, Any]
    timeout: float | None = None


@dataclass
class DeliveryPolicy:
    timeout_s: float = 5.0
    attempts: int = 3
    backoff_s: float = 0.5
    rules: EndpointRules = field(default_factory=lambda: EndpointRules([]))


Recorder = Callable[[str, bool], Awaitable[None]]


def metadata_of(d: Delivery) -> dict[str, str]:
    """Content-Type, Link (for plain JSON) and the receiverInfo pairs: the HTTP headers of a
    notification, and the ``metadata`` member of its MQTT message."""
    meta = {"Content-Type": d.accept}
    if d.accept != JSONLD:
        meta["Link"] = link_header(d.link_url)
    for pair in d.receiver_info:
        meta[pair["key"]] = pair["value"]
    return meta


class Sender:
    """Transport of one delivery; raises on any failure so the caller can retry.

    HTTP goes through the connector's guarded client (connector.outbound): the resolved
    addresses are checked at connect time and a redirect is a failure, never followed."""

    def __init__(self, client: Callable[[], PeerHttp]) -> None:
        self._client = client

    async def send(self, d: Delivery, target: Target, seconds: float) -> None:
        if target.mqtt:
            await self._mqtt(d, target, seconds)
        else:
            await self._http(d, seconds)

    async def _http(self, d: Delivery, seconds: float) -> None:
        body = json.dumps(d.payload, ensure_ascii=False, separators=(",", ":")).encode()
        got = await self._client().request(
            "POST", d.uri, data=body, headers=metadata_of(d), seconds=seconds, max_bytes=64 * 1024
        )
        if not 200 <= got.status < 300:
            raise RuntimeError(f"the endpoint answered {got.status}")

    async def _mqtt(self, d: Delivery, target: Target, seconds: float) -> None:
        message = {"metadata": metadata_of(d), "body": d.payload}
        qos = int(d.notifier_info.get("MQTT-QoS", "0"))
        version = d.notifier_info.get("MQTT-Version", "mqtt5.0")
        protocol = (
            aiomqtt.ProtocolVersion.V5 if version == "mqtt5.0" else aiomqtt.ProtocolVersion.V311
        )
        tls = ssl.create_default_context() if target.scheme == "mqtts" else None
        async with asyncio.timeout(seconds):
            async with aiomqtt.Client(
                hostname=target.host,
                port=target.port,
                username=target.username,
                password=target.password,
                protocol=protocol,
                tls_context=tls,
                timeout=seconds,
            ) as client:
                await client.publish(
                    target.path, json.dumps(message, ensure_ascii=False), qos=min(max(qos, 0), 2)
                )


class Notifier:
    """A bounded queue and its workers."""

    def __init__(
        self, sender: Sender, policy: DeliveryPolicy, record: Recorder, *, size: int = 10_000
    ) -> None:
        self.sender = sender
        self.policy = policy
        self.record = record
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=size)

    def enqueue(self, delivery: Delivery) -> bool:
        try:
            self.queue.put_nowait(delivery)
        except asyncio.QueueFull:
            log.warning("notification queue full; dropped one for %s", delivery.subscription_id)
            return False
        return True

    async def worker(self) -> None:
        while True:
            delivery = await self.queue.get()
            try:
                ok = await self.deliver(delivery)
                await self.record(delivery.subscription_id, ok)
            except Exception:
                log.exception("recording a notification of %s failed", delivery.subscription_id)
            finally:
                self.queue.task_done()

    async def deliver(self, d: Delivery) -> bool:
        """Send with retries and exponential backoff; True when one attempt succeeded."""
        timeout = d.timeout or self.policy.timeout_s
        for attempt in range(self.policy.attempts):
            try:
                target = check_endpoint(d.uri, self.policy.rules)
                if target.mqtt:
                    await check_resolved(target, self.policy.rules)
                await self.sender.send(d, target, timeout)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info(
                    "notification of %s to %s failed (attempt %d): %s",
                    d.subscription_id,
                    d.uri,
                    attempt + 1,
                    exc,
                )
                if attempt + 1 < self.policy.attempts:
                    await asyncio.sleep(self.policy.backoff_s * 2**attempt)
        return False
