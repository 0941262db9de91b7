"""Callback addresses: accepted only towards hosts the operator allowed (SSRF guard).

A peer's ``callbackAddress`` (or a counterparty address typed into the management API) makes
this connector send requests; without the allow-list anybody could aim it at internal services.
The check runs when the address is received and again right before every send.
"""

from __future__ import annotations

from urllib.parse import urlsplit


class CallbackRefused(ValueError):
    """The address is malformed or points at a host outside ``allowed_callback_hosts``."""


def check_callback(address: object, allowed_hosts: list[str]) -> str:
    """The address without a trailing slash, or :class:`CallbackRefused`."""
    if not isinstance(address, str) or not address or len(address) > 2000:
        raise CallbackRefused("the callback address must be a non-empty URL")
    try:
        split = urlsplit(address)
        port = split.port
    except ValueError:
        raise CallbackRefused(f"the callback address {address[:100]!r} is not a URL") from None
    if split.scheme not in ("https", "http"):
        raise CallbackRefused(f"scheme {split.scheme!r} is not supported; use https")
    if split.username or split.password:
        raise CallbackRefused("credentials inside a callback address are refused")
    if split.query or split.fragment:
        raise CallbackRefused("a callback address takes no query or fragment")
    host = (split.hostname or "").lower()
    allowed = {h.lower() for h in allowed_hosts}
    if not host or (host not in allowed and f"{host}:{port}" not in allowed):
        raise CallbackRefused(f"host {host or '(none)'} is not an allowed callback host")
    return address.rstrip("/")


def join(base: str, *segments: str) -> str:
    """``base`` + path segments, tolerating a trailing slash on the base."""
    return "/".join([base.rstrip("/"), *(s.strip("/") for s in segments)])
