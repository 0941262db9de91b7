"""Which nodes to crawl: the members the authority's registry admits, plus configured ones.

The registry lists only active members (revoked and suspended ones drop out, and the crawler
then drops their entries). A member's DSP address is its registry ``dspEndpoint``, else the
``CatalogService`` or ``DataService`` entry of its DID document (resolved through the trust
layer's guarded resolver).
"""

from __future__ import annotations

from typing import Any

from connector.catalog.settings import CatalogSettings
from identity import IdentityError, Reason
from identity.http_guard import parse_json
from marketplace.catalog.crawler import Target

MAX_MEMBERS = 100_000


async def _registry_members(trust: Any) -> list[dict[str, Any]]:
    if trust.registry is not None:
        listed: list[dict[str, Any]] = await trust.registry.list()
        return listed
    found = await trust.authority()
    if found is None:
        return []
    _, url = found
    status, body = await trust.http.request_bytes(
        "GET", url.rstrip("/") + "/registry/participants", error_reason=Reason.DID_UNRESOLVABLE
    )
    if status != 200:
        raise IdentityError(Reason.DID_UNRESOLVABLE, f"the registry answered HTTP {status}")
    doc = parse_json(body, Reason.DID_UNRESOLVABLE)
    members = doc.get("participants") if isinstance(doc, dict) else None
    if not isinstance(members, list):
        raise IdentityError(Reason.DID_UNRESOLVABLE, "the registry has no participants list")
    return [m for m in members[:MAX_MEMBERS] if isinstance(m, dict)]


async def _endpoint_from_did(trust: Any, did: str) -> str | None:
    try:
        document = await trust.resolver.resolve(did)
    except IdentityError:
        return None
    for kind in ("CatalogService", "DataService"):
        service = document.service(kind)
        if service is not None:
            return str(service.endpoint)
    return None


async def targets(
    trust: Any, cfg: CatalogSettings, own_did: str
) -> tuple[list[Target], str | None]:
    """(nodes to crawl, why the registry could not be read or None)."""
    found: dict[str, Target] = {}
    problem = None
    if cfg.registry and trust is not None:
        try:
            members = await _registry_members(trust)
        except (IdentityError, ValueError) as exc:
            members, problem = [], str(exc)
        for member in members:
            did = member.get("did")
            if (
                not isinstance(did, str)
                or did == own_did
                or member.get("state", "active") != "active"
            ):
                continue
            url = member.get("dspEndpoint")
            if not isinstance(url, str) or not url:
                url = await _endpoint_from_did(trust, did)
            if url:
                found[did] = Target(did, url)
    for node in cfg.nodes:
        found.setdefault(node.did, Target(node.did, node.url))
    return list(found.values()), problem
