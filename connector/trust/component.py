"""The trust component: mounts the DID document, the Credential Service, the membership API
and, for the authority role, status lists, the registry and the authority's API.

Its :class:`~connector.trust.core.Trust` is ``ctx.components["trust"]``.
"""

from __future__ import annotations

from aiohttp import web

from connector.http.auth import AUTHENTICATORS
from connector.http.context import ConnectorContext
from connector.keys import participant_of
from connector.management.api import MANAGEMENT_APP
from connector.trust import credential_service_api, membership
from connector.trust.auth import dcp_authenticator
from connector.trust.authority import mount as mount_authority
from connector.trust.core import (
    CREDENTIAL_SERVICE_PATH,
    DEFAULT_SCOPES,
    Trust,
    did_document,
)
from connector.trust.registry import get_participants, get_trusted_issuers
from connector.trust.settings import identity_settings
from connector.trust.status_lists import get_status_list

__all__ = ["DEFAULT_SCOPES", "Trust", "TrustComponent"]


class TrustComponent:
    name = "trust"

    def __init__(self) -> None:
        self.trust: Trust | None = None

    async def start(self, ctx: ConnectorContext) -> None:
        trust = Trust(ctx, participant_of(ctx), identity_settings(ctx.settings))
        if trust.status_lists is not None:
            await trust.status_lists.ensure_all()
        self.trust = trust
        ctx.components["trust"] = trust

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        identity_settings(ctx.settings)  # a bad [identity] section fails before serving
        root.router.add_get("/.well-known/did.json", did_document)
        credential_service_api.mount(root, CREDENTIAL_SERVICE_PATH)
        api = root[MANAGEMENT_APP]
        membership.mount(api)
        if ctx.settings.participant.role.value == "authority":
            root.router.add_get("/status/{list_id}", get_status_list)
            root.router.add_get("/registry/participants", get_participants)
            root.router.add_get("/registry/trusted-issuers", get_trusted_issuers)
            mount_authority(root, api)
        root[AUTHENTICATORS].append(dcp_authenticator)

    async def stop(self) -> None:
        if self.trust is not None:
            await self.trust.close()
            self.trust = None
