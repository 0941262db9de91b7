"""Where notifications may go: http(s) and mqtt(s) URIs on allowed hosts only.

A subscription makes the connector send requests on a client's behalf, so an unchecked
endpoint would let any subscriber probe the connector's internal network (SSRF). The host must
be listed in ``settings.security.allowed_callback_hosts`` (exact names, or ``*.domain``
wildcards); the check runs when the subscription is stored and again before each delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from connector.ngsild.errors import bad_data

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


def check_endpoint(uri: object, allowed: list[str]) -> Target:
    """Parse and vet a notification endpoint URI; BadRequestData says what is wrong."""
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
