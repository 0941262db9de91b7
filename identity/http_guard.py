"""Outbound HTTP for DID documents, status lists and credential services, with SSRF guards.

A DID or a status-list URL is attacker-chosen input, so every fetch is checked: the host must be
on the allow-list, resolved addresses must not be loopback/private/link-local unless explicitly
allowed (checked again at connect time through a filtering DNS resolver, which defeats DNS
rebinding), https is required except for explicitly allowed loopback test servers, redirects are
not followed, and both the time and the size of a response are bounded.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

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
    allow_loopback: bool = False
    allow_private: bool = False
    allow_http: bool = False
    timeout: float = 5.0
    max_bytes: int = 256 * 1024

    def address_allowed(self, ip: IpAddress) -> bool:
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
        port = split.port
        if host not in self.allowed_hosts and f"{host}:{port}" not in self.allowed_hosts:
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
        self.policy.check_url(url)
        limit = self.policy.max_bytes
        try:
            async with self._get_session().request(
                method, url, json=json_body, headers=headers, allow_redirects=False
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
                return resp.status, body, resp.headers
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
