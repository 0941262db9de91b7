"""Outbound HTTP for DID documents, status lists and credential services, with SSRF guards.

A DID or a status-list URL is attacker-chosen input, so every fetch is checked: the host must be
on the allow-list, resolved addresses must not be loopback/private/link-local unless explicitly
allowed (checked again at connect time through a filtering DNS resolver, which defeats DNS
rebinding), https is required except for explicitly allowed loopback test servers, and both the
time and the size of a response are bounded. aiohttp never follows a redirect by itself: a caller
either gets the 3xx back to judge (the default), has it refused (``redirects=0``), or has it
followed a bounded number of times with every hop checked against the policy again.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from . import safe_json
from .errors import Reason, ResolutionError

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class FetchPolicy:
    """Where the identity package may connect to. The default allows nothing."""

    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    #: accept any host name (``allowed_hosts`` is then not consulted); the address and scheme
    #: checks stay in force, so this still reaches only public addresses unless allowed
    any_host: bool = False
    allow_loopback: bool = False
    allow_private: bool = False
    allow_http: bool = False
    timeout: float = 5.0
    max_bytes: int = 256 * 1024

    def address_allowed(self, ip: IpAddress) -> bool:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            return self.address_allowed(ip.ipv4_mapped)  # ::ffff:127.0.0.1 is loopback too
        if ip.is_loopback:
            return self.allow_loopback
        if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
            return False
        if ip.is_private:
            return self.allow_private
        return True

    def check_url(self, url: str) -> None:
        """Refuse a URL before any connection is made."""
        split = urlsplit(url)
        host = (split.hostname or "").lower()
        if not host:
            raise ResolutionError(Reason.HOST_NOT_ALLOWED, f"no host in {url[:100]}")
        if split.username or split.password:
            raise ResolutionError(Reason.HOST_NOT_ALLOWED, "credentials in URLs are refused")
        try:
            port = split.port
        except ValueError:
            raise ResolutionError(Reason.HOST_NOT_ALLOWED, f"bad port in {url[:100]}") from None
        if split.scheme not in ("http", "https"):
            raise ResolutionError(Reason.HOST_NOT_ALLOWED, f"scheme {split.scheme!r} not allowed")
        listed = host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts
        if not self.any_host and not listed:
            raise ResolutionError(Reason.HOST_NOT_ALLOWED, f"host {host} is not on the allow-list")
        literal = _ip_or_none(host)
        if literal is not None and not self.address_allowed(literal):
            raise ResolutionError(Reason.HOST_NOT_ALLOWED, f"address {host} is not allowed")
        if split.scheme == "https":
            return
        loopback = (literal is not None and literal.is_loopback) or host == "localhost"
        if split.scheme == "http" and self.allow_http and loopback and self.allow_loopback:
            return
        raise ResolutionError(Reason.HOST_NOT_ALLOWED, f"scheme {split.scheme!r} not allowed")


def _ip_or_none(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class _GuardedResolver(AbstractResolver):
    """DNS resolver that drops addresses the policy forbids (checked at connect time)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [
            r for r in results if self._policy.address_allowed(ipaddress.ip_address(r["host"]))
        ]
        if not allowed:
            raise OSError(f"{host} resolves only to addresses that are not allowed")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


#: statuses whose ``Location`` is a redirect
REDIRECTS = frozenset({301, 302, 303, 307, 308})
#: request headers never carried to another origin by a followed redirect
PRIVATE_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


@dataclass(frozen=True)
class Fetched:
    """One answer: status, the (bounded) body, the headers and the URL that gave it."""

    status: int
    body: bytes
    headers: Mapping[str, str]
    url: str

    def header_values(self, name: str) -> list[str]:
        """Every value of a repeated header (e.g. ``Link``)."""
        getall = getattr(self.headers, "getall", None)
        if getall is not None:
            return list(getall(name, []))
        value = self.headers.get(name)
        return [] if value is None else [value]


def _origin(url: str) -> tuple[str, str, int | None]:
    split = urlsplit(url)
    return split.scheme, (split.hostname or "").lower(), split.port


class GuardedHttp:
    """A small aiohttp client that applies a :class:`FetchPolicy` to every request."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(resolver=_GuardedResolver(self.policy))
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.policy.timeout),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request_bytes(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        error_reason: Reason = Reason.DID_UNRESOLVABLE,
    ) -> tuple[int, bytes]:
        """Perform one request and return (status, body); the body is size-limited."""
        status, body, _ = await self.request(
            method, url, json_body=json_body, headers=headers, error_reason=error_reason
        )
        return status, body

    async def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        error_reason: Reason = Reason.DID_UNRESOLVABLE,
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """Like :meth:`request_bytes`, with the response headers (e.g. to judge a redirect's
        ``Location`` before following it)."""
        got = await self.fetch(
            method, url, json_body=json_body, headers=headers, error_reason=error_reason
        )
        return got.status, got.body, got.headers

    async def fetch(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        seconds: float | None = None,
        max_bytes: int | None = None,
        redirects: int | None = None,
        error_reason: Reason = Reason.DID_UNRESOLVABLE,
    ) -> Fetched:
        """One request under the policy, answered as :class:`Fetched` (body size-limited).

        ``redirects``: ``None`` hands a 3xx back as it is; ``0`` refuses it (naming its
        ``Location``); ``n`` follows at most ``n`` hops, each checked against the policy like
        the first URL. A hop to another origin loses the ``Authorization`` header.
        """
        hops = 0
        current = url
        send_headers = dict(headers or {})
        while True:
            got = await self._once(
                method,
                current,
                json_body=json_body,
                data=data,
                headers=send_headers,
                params=params if hops == 0 else None,
                seconds=seconds,
                max_bytes=max_bytes,
                error_reason=error_reason,
            )
            location = got.headers.get("Location")
            if redirects is None or got.status not in REDIRECTS or location is None:
                return got
            target = urljoin(current, location)
            if hops >= redirects:
                raise ResolutionError(
                    Reason.HOST_NOT_ALLOWED,
                    f"{current} redirects ({got.status}) to {target[:200]}; "
                    + ("redirects are not followed" if redirects == 0 else "too many redirects"),
                )
            self.policy.check_url(target)  # every hop is judged like the first URL
            if _origin(target) != _origin(current):
                send_headers = {
                    k: v for k, v in send_headers.items() if k.lower() not in PRIVATE_HEADERS
                }
            if got.status == 303 or (got.status in (301, 302) and method == "POST"):
                method, json_body, data = "GET", None, None
            current = target
            hops += 1

    async def _once(
        self,
        method: str,
        url: str,
        *,
        json_body: Any,
        data: bytes | None,
        headers: Mapping[str, str],
        params: Mapping[str, str] | None,
        seconds: float | None,
        max_bytes: int | None,
        error_reason: Reason,
    ) -> Fetched:
        self.policy.check_url(url)
        limit = self.policy.max_bytes if max_bytes is None else max_bytes
        extra: dict[str, Any] = {}
        if seconds is not None:
            extra["timeout"] = aiohttp.ClientTimeout(total=seconds)
        try:
            async with self._get_session().request(
                method,
                url,
                json=json_body,
                data=data,
                headers=dict(headers),
                params=params,
                allow_redirects=False,
                **extra,
            ) as resp:
                if resp.content_length is not None and resp.content_length > limit:
                    raise ResolutionError(
                        Reason.TOKEN_TOO_LARGE, f"{url} answers over {limit} bytes"
                    )
                # read() returns what has arrived so far: loop until the end or the limit
                body = b""
                while len(body) <= limit:
                    chunk = await resp.content.read(limit + 1 - len(body))
                    if not chunk:
                        break
                    body += chunk
                if len(body) > limit:
                    raise ResolutionError(
                        Reason.TOKEN_TOO_LARGE, f"{url} answers over {limit} bytes"
                    )
                return Fetched(resp.status, body, resp.headers, str(resp.url))
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise ResolutionError(error_reason, f"{url}: {type(exc).__name__}: {exc}") from exc

    async def get_json(self, url: str, *, error_reason: Reason = Reason.DID_UNRESOLVABLE) -> Any:
        status, body = await self.request_bytes("GET", url, error_reason=error_reason)
        if status != 200:
            raise ResolutionError(error_reason, f"{url} answered HTTP {status}")
        return parse_json(body, error_reason)


def parse_json(body: bytes | str, error_reason: Reason) -> Any:
    """A fetched document decoded (depth-bounded, no NaN or overflowing numbers), or a
    :class:`ResolutionError` with ``error_reason``."""
    try:
        return safe_json.loads(body)
    except safe_json.JsonRefused as exc:
        raise ResolutionError(error_reason, exc.reason) from None
