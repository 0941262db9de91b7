"""Policy enforcement seam: every NGSI-LD operation asks the PEP for its access scope first.

The service applies the returned :class:`AccessScope` inside the store query (entity types,
attributes, area), never by filtering answers afterwards, so counts, pagination and discovery
see exactly the permitted data. The connector's default PEP lets the participant's admin key
do everything and refuses anyone else with 401; the policy component replaces it by putting
another implementation at ``ctx.components["ngsild.pep"]`` (looked up on every request).

Operation names: ``entity.create|retrieve|replace|merge|delete``, ``attrs.append|update|
patch|replace|delete``, ``entities.query|purge``, ``batch.create|upsert|update|delete|merge|
query``, ``types.list|retrieve``, ``attributes.list|retrieve``, ``temporal.query|retrieve|create|
append|update|delete``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from connector.http.auth import ADMIN, PRINCIPAL_KEY, authenticate
from connector.http.problems import Problem

READ_OPERATIONS = frozenset(
    {
        "entity.retrieve",
        "entities.query",
        "batch.query",
        "types.list",
        "types.retrieve",
        "attributes.list",
        "attributes.retrieve",
    }
)


@dataclass(frozen=True)
class AccessScope:
    """What one request may see or change. Types and attributes are expanded IRIs;
    None means no restriction. ``area`` is a GeoJSON geometry entities' location must meet."""

    entity_types: frozenset[str] | None = None
    attributes: frozenset[str] | None = None
    area: dict[str, Any] | None = None
    may_write: bool = False

    @property
    def unrestricted(self) -> bool:
        return self.entity_types is None and self.attributes is None and self.area is None


FULL_ACCESS = AccessScope(may_write=True)


class PolicyEnforcementPoint(Protocol):
    async def scope_for(
        self, request: web.Request, operation: str, target_types: set[str] | None
    ) -> AccessScope:
        """Decide before storage; raise a Problem (401/403) to refuse outright."""

    async def after(
        self,
        request: web.Request,
        operation: str,
        scope: AccessScope,
        response_summary: dict[str, Any],
    ) -> None:
        """Observe the outcome (status, entity ids/count) e.g. for provenance records."""


class AdminOnlyPep:
    """The default: the admin principal gets full access, anyone else a 401 Problem."""

    async def scope_for(
        self, request: web.Request, operation: str, target_types: set[str] | None
    ) -> AccessScope:
        principal = await authenticate(request)
        if principal is None or principal.kind != ADMIN:
            raise Problem(
                401,
                "Unauthorized",
                detail="send the admin API key as 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="agora"'},
            )
        request[PRINCIPAL_KEY] = principal
        return FULL_ACCESS

    async def after(
        self,
        request: web.Request,
        operation: str,
        scope: AccessScope,
        response_summary: dict[str, Any],
    ) -> None:
        return None
