"""Callback addresses and process ids from peers (SSRF guard).

A peer's ``callbackAddress`` makes this connector send requests, so it is accepted only when it
is the peer's own DSP endpoint as its DID document declares it (the same scheme, host and port
as the ``DataService`` service entry), or on an origin the operator listed in
``security.allowed_callback_hosts``; either way the address must pass the outbound policy
(public https hosts only outside development mode). The check runs when the address is
received; the policy is applied again right before every send, and at connect time.

Process ids (``providerPid``/``consumerPid``) are opaque tokens to us, but they are joined into
the URLs we call: a bounded charset with no ``/``, ``%``, whitespace or dot-only segments, and
each is percent-quoted when joined.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

from connector.outbound import OutboundError, check_target, setting_hint
from identity.did_document import DidDocument
from identity.http_guard import FetchPolicy

#: the DID document service type of a DSP endpoint
DSP_SERVICE = "DataService"
#: an opaque process id: URN/UUID-like characters only, at most 200 of them
PID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~+=@!$*,;-]{0,199}")
DEFAULT_PORTS = {"http": 80, "https": 443}


class CallbackRefused(ValueError):
    """The address is malformed, forbidden by the outbound policy, or not the caller's."""


def check_callback(address: object, policy: FetchPolicy) -> str:
    """The address without a trailing slash if its form and target pass, else
    :class:`CallbackRefused` (whose caller it belongs to is :func:`callback_owned`'s job)."""
    if not isinstance(address, str) or not address or len(address) > 2000:
        raise CallbackRefused("the callback address must be a non-empty URL")
    try:
        split = urlsplit(address)
        split.port  # noqa: B018 - a bad port raises here
    except ValueError:
        raise CallbackRefused(f"the callback address {address[:100]!r} is not a URL") from None
    if split.scheme not in ("https", "http"):
        raise CallbackRefused(f"scheme {split.scheme!r} is not supported; use https")
    if split.username or split.password:
        raise CallbackRefused("credentials inside a callback address are refused")
    if split.query or split.fragment:
        raise CallbackRefused("a callback address takes no query or fragment")
    if not split.hostname:
        raise CallbackRefused("the callback address has no host")
    try:
        check_target(address, policy)
    except OutboundError as exc:
        raise CallbackRefused(
            f"the callback address is refused: {exc.detail}{setting_hint(exc)}"
        ) from None
    return address.rstrip("/")


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    split = urlsplit(url)
    scheme = split.scheme.lower()
    return (
        scheme,
        (split.hostname or "").lower().rstrip("."),
        split.port or DEFAULT_PORTS.get(scheme),
    )


def listed(address: str, allowed: list[str]) -> bool:
    """Is the address on the operator's list (host, ``host:port``, ``scheme://host[:port]``,
    ``*.domain`` or ``*``)?"""
    scheme, host, port = origin(address)
    for raw in allowed:
        entry = raw.strip().lower().rstrip("/")
        if not entry:
            continue
        if entry == "*" or entry == host or entry == f"{host}:{port}":
            return True
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if "://" in entry and origin(entry) == (scheme, host, port):
            return True
    return False


def declared_endpoint(document: DidDocument) -> str | None:
    """The DSP endpoint the DID document declares, if any."""
    service = document.service(DSP_SERVICE)
    return service.endpoint if service is not None else None


def callback_owned(address: str, document: DidDocument) -> bool:
    """Is the address on the origin of the DSP endpoint the caller's DID document declares?"""
    endpoint = declared_endpoint(document)
    return endpoint is not None and origin(endpoint) == origin(address)


def check_pid(value: object) -> str:
    """A peer's process id, or :class:`ValueError` saying what is wrong with it."""
    if not isinstance(value, str) or not PID.fullmatch(value):
        raise ValueError(
            "a process id must be 1-200 characters of letters, digits and ._:~+=@!$*,;- "
            "(no '/', '%' or whitespace), starting with a letter or digit"
        )
    if ".." in value:
        raise ValueError("a process id may not contain '..'")
    return value


def is_pid(value: object) -> bool:
    try:
        check_pid(value)
    except ValueError:
        return False
    return True


def join(base: str, *segments: str) -> str:
    """``base`` + literal path segments, tolerating a trailing slash on the base."""
    return "/".join([base.rstrip("/"), *(s.strip("/") for s in segments)])


def segment(value: str) -> str:
    """One path segment from a value we do not control (a pid, a dataset id): quoted."""
    return quote(value, safe="")
