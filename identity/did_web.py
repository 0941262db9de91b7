"""did:web <-> URL mapping (W3C did:web method): host with %3A-encoded port, ':'-separated path."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from .errors import Reason, ResolutionError


def did_web_to_url(did: str, *, scheme: str = "https") -> str:
    """did:web:example.com%3A8443:users:alice -> https://example.com:8443/users/alice/did.json.

    Without a path the document lives at /.well-known/did.json.
    """
    if not did.startswith("did:web:"):
        raise ResolutionError(Reason.DID_UNRESOLVABLE, f"not a did:web: {did[:60]}")
    parts = did[len("did:web:") :].split(":")
    host = unquote(parts[0])
    if not host or any(c in host for c in "/?#@ ") or any(not p for p in parts[1:]):
        raise ResolutionError(Reason.DID_UNRESOLVABLE, f"malformed did:web: {did[:80]}")
    path_parts = [unquote(p) for p in parts[1:]]
    if any(p in (".", "..") or "/" in p for p in path_parts):
        raise ResolutionError(Reason.DID_UNRESOLVABLE, "did:web path segments may not traverse")
    path = "/".join(path_parts) + "/did.json" if path_parts else ".well-known/did.json"
    return f"{scheme}://{host}/{path}"


def url_to_did_web(url: str) -> str:
    """Inverse mapping: the DID a participant publishes at ``url`` (origin plus optional path)."""
    split = urlsplit(url)
    if not split.hostname:
        raise ResolutionError(Reason.MALFORMED, f"no host in {url}")
    host = split.hostname + (f"%3A{split.port}" if split.port else "")
    path = split.path.strip("/")
    for suffix in (".well-known/did.json", "did.json"):
        if path.endswith(suffix):
            path = path[: -len(suffix)].strip("/")
    segments = [quote(p, safe="") for p in path.split("/") if p]
    return ":".join(["did:web", host, *segments])
