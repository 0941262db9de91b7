"""Where notifications may go: http(s) and mqtt(s) URIs on allowed hosts only.

A subscription makes the connector send requests on a client's behalf, so an unchecked
endpoint would let any subscriber probe the connector's internal network (SSRF). The host must
be listed in ``settings.security.allowed_callback_hosts`` (exact names, or ``*.domain``
wildcards; development mode adds the loopback names), must not be this connector itself (its
public origin or the address it listens on), and outside development mode must not be a
loopback, private or link-local address (checked again on the resolved addresses when an HTTP
notification is sent). The check runs when the subscription is stored and before each delivery.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from connector.config import Settings
from connector.ngsild.errors import bad_data
from connector.outbound import callback_hosts, is_own_address, peer_policy
from identity.http_guard import FetchPolicy

SCHEMES = ("http", "https", "mqtt", "mqtts")
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # the HTTP path or the MQTT topic
    username: str | None = None
    password: str | None = None

    @property
    def mqtt(self) -> bool:
        return self.scheme in ("mqtt", "mqtts")


def host_allowed(host: str, allowed: list[str]) -> bool:
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower().rstrip(".")
        if entry == "*" or entry == host:
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
    return False


@dataclass(frozen=True)
class EndpointRules:
    """What a notification endpoint must satisfy (built from the settings)."""

    allowed_hosts: list[str]
    #: the outbound address policy (loopback/private/link-local refused outside dev mode)
    policy: FetchPolicy = dataclasses.field(default_factory=FetchPolicy)
    #: does a URI point at this connector itself?
    is_own: Callable[[str], bool] = lambda uri: False


def endpoint_rules(settings: Settings) -> EndpointRules:
    return EndpointRules(
        allowed_hosts=callback_hosts(settings),
        policy=peer_policy(settings),
        is_own=lambda uri: is_own_address(uri, settings),
    )


def _address_refused(host: str, policy: FetchPolicy) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return not policy.allow_loopback
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False  # a name: its addresses are checked when the notification is sent
    return not policy.address_allowed(ip)


def check_endpoint(uri: object, rules: EndpointRules) -> Target:
    """Parse and vet a notification endpoint URI; BadRequestData says what is wrong."""
    allowed = rules.allowed_hosts
    if not isinstance(uri, str) or not uri or len(uri) > 2048:
        raise bad_data("notification.endpoint.uri must be a non-empty URI")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError as exc:
        raise bad_data(f"notification.endpoint.uri {uri!r} is not a valid URI: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise bad_data(
            f"notification.endpoint.uri {uri!r}: the scheme must be one of {', '.join(SCHEMES)}"
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise bad_data(f"notification.endpoint.uri {uri!r} has no host")
    if not host_allowed(host, allowed):
        raise bad_data(
            f"notification.endpoint.uri: the host {host!r} is not an allowed callback host "
            "(settings.security.allowed_callback_hosts)"
        )
    if _address_refused(host, rules.policy):
        raise bad_data(
            f"notification.endpoint.uri: the address {host!r} is loopback, private or "
            "link-local; such endpoints are allowed only in development mode (server.dev_mode)"
        )
    if rules.is_own(uri):
        raise bad_data(
            f"notification.endpoint.uri {uri[:200]!r} points at this connector itself; "
            "notifications go to the subscriber's own endpoint"
        )
    path = parts.path or "/"
    if scheme in ("mqtt", "mqtts"):
        topic = unquote(path.lstrip("/"))
        if not topic or any(c in topic for c in "+#") or "#" in uri:
            raise bad_data(
                f"notification.endpoint.uri {uri!r}: an MQTT endpoint needs a topic without "
                "wildcards, e.g. mqtt://host:1883/city/air"
            )
        path = topic
    elif parts.query:
        path = f"{path}?{parts.query}"
    return Target(
        scheme=scheme,
        host=host,
        port=port or DEFAULT_PORTS[scheme],
        path=path,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


async def check_resolved(target: Target, rules: EndpointRules) -> None:
    """Before an MQTT connection (which does not go through the guarded HTTP client): every
    address the broker's name resolves to must be one the policy allows."""
    policy = rules.policy
    if policy.allow_loopback and policy.allow_private:
        return
    infos = await asyncio.get_running_loop().getaddrinfo(
        target.host, target.port, type=socket.SOCK_STREAM
    )
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not policy.address_allowed(ip):
            raise OSError(f"{target.host} resolves to {ip}, which is not allowed")
