"""The one client for URLs a peer chose: callbacks, notifications, pull endpoints, receipts.

A peer's ``callbackAddress``, a subscriber's notification endpoint or a provider's data address
make this connector send requests on someone else's say, so all of them go through identity's
SSRF-guarded client with one policy: any host name, but only public addresses over https (the
filtering resolver checks the resolved addresses again at connect time, which defeats DNS
rebinding), bounded time and size, and no redirect followed unless a caller asks for a bounded
number of hops, each judged like the first URL.

Loopback, private addresses and plain http are allowed only in development mode
(``[server] dev_mode = true``, written by ``agora init --dev``), never by default.

Only the NGSI-LD proxy's upstream, which the operator configures, keeps the plain client
(``ConnectorContext.http``), and it never follows redirects either.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from connector.config import Settings
from identity.errors import IdentityError
from identity.http_guard import Fetched, FetchPolicy, GuardedHttp

__all__ = [
    "LOOPBACK_NAMES",
    "Fetched",
    "OutboundError",
    "PeerHttp",
    "callback_hosts",
    "check_target",
    "is_own_address",
    "peer_policy",
    "setting_hint",
]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
#: default bound on an answer's body (a pull may ask for more)
MAX_BYTES = 4 * 1024 * 1024
TIMEOUT_S = 30.0


class OutboundError(Exception):
    """A request to a peer was refused by the policy (``refused``) or failed on the way."""

    def __init__(self, detail: str, *, refused: bool) -> None:
        super().__init__(detail)
        self.detail = detail
        self.refused = refused


#: the settings that allow what the outgoing-request policy refuses, for error messages
DEV_MODE_HINT = (
    " (loopback, private addresses and plain http are allowed only in development mode:"
    " [server] dev_mode = true in agora.toml, AGORA_SERVER_DEV_MODE=true, or `agora init --dev`)"
)


def setting_hint(exc: Exception) -> str:
    """The setting that would allow what ``exc`` refused ("" if none would): a refusal of a
    host by the outgoing-request policy names development mode."""
    reason = getattr(getattr(exc, "reason", None), "value", None)
    refused = getattr(exc, "refused", False) or reason == "host_not_allowed"
    text = str(getattr(exc, "detail", exc))
    if refused and any(w in text for w in ("loopback", "private", "http", "not allowed")):
        return DEV_MODE_HINT
    return ""


def peer_policy(settings: Settings) -> FetchPolicy:
    """Production: public https hosts only. Development mode: loopback and plain http too."""
    dev = settings.server.dev_mode
    return FetchPolicy(
        any_host=True,
        allow_loopback=dev,
        allow_private=dev,
        allow_http=dev,
        timeout=TIMEOUT_S,
        max_bytes=MAX_BYTES,
    )


def check_target(url: str, policy: FetchPolicy) -> None:
    """Refuse a URL the policy forbids before anything is stored or sent (a name that is
    loopback by definition, RFC 6761, included; other names are judged at connect time)."""
    try:
        policy.check_url(url)
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except (IdentityError, ValueError) as exc:
        raise OutboundError(getattr(exc, "detail", str(exc)), refused=True) from None
    if (host == "localhost" or host.endswith(".localhost")) and not policy.allow_loopback:
        raise OutboundError(f"address {host} is loopback", refused=True)


def callback_hosts(settings: Settings) -> list[str]:
    """The operator's callback allow-list, with the loopback names in development mode."""
    hosts = list(settings.security.allowed_callback_hosts)
    if settings.server.dev_mode:
        hosts += [h for h in LOOPBACK_NAMES if h not in hosts]
    return hosts


def _port(scheme: str, port: int | None) -> int | None:
    return port if port is not None else {"http": 80, "https": 443}.get(scheme)


def is_own_address(url: str, settings: Settings) -> bool:
    """Does ``url`` point at this connector itself (its public origin, or the address it
    listens on)? A subscription or callback aimed there would make us call our own API."""
    try:
        target = urlsplit(url)
        host, port = (target.hostname or "").lower(), _port(target.scheme, target.port)
        public = urlsplit(settings.public_url)
        public_origin = ((public.hostname or "").lower(), _port(public.scheme, public.port))
    except ValueError:
        return False
    if (host, port) == public_origin:
        return True
    if port != settings.server.port:
        return False
    bind = settings.server.host.lower()
    local = host in LOOPBACK_NAMES or host.startswith("127.") or host in ("0.0.0.0", "[::]")
    return host == bind or (local and (bind in LOOPBACK_NAMES or bind in ("0.0.0.0", "::", "")))


class PeerHttp:
    """The guarded client of one connector (created once, closed on shutdown)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._http = GuardedHttp(policy)

    async def __aenter__(self) -> PeerHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: object = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        seconds: float | None = None,
        max_bytes: int | None = None,
        redirects: int = 0,
    ) -> Fetched:
        """One request; a 3xx is refused unless ``redirects`` allows that many checked hops."""
        try:
            return await self._http.fetch(
                method,
                url,
                json_body=json_body,
                data=data,
                headers=headers,
                params=params,
                seconds=seconds,
                max_bytes=max_bytes,
                redirects=redirects,
            )
        except IdentityError as exc:
            refused = exc.reason.value in ("host_not_allowed", "token_too_large")
            raise OutboundError(exc.detail, refused=refused) from None

    async def close(self) -> None:
        await self._http.close()
