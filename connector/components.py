"""The components a connector is assembled from, in mount order.

A component owns one path of the HTTP surface and its own background work. Adding a capability
means adding it here, so a reader sees the whole connector in one list.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from connector.http.context import ConnectorContext


class Component(Protocol):
    name: str

    async def start(self, ctx: ConnectorContext) -> None:
        """Prepare state after migrations ran, before the first request."""

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        """Add routes or sub-applications to the root application."""

    async def stop(self) -> None:
        """Release what start() took; background tasks are cancelled by the context."""


def default_components(ctx: ConnectorContext) -> list[Component]:
    from connector.catalog.component import FederatedCatalog
    from connector.dsp.component import DspComponent
    from connector.enforcement.component import EnforcementComponent
    from connector.management.api import ManagementApi
    from connector.market.component import MarketComponent
    from connector.ngsild.component import NgsiLdBroker
    from connector.ngsild.proxy.component import NgsiLdProxy
    from connector.ngsild.subscriptions.component import NgsiLdSubscriptions
    from connector.ngsild.temporal.component import NgsiLdTemporal
    from connector.provenance.component import ProvenanceComponent
    from connector.trust.component import TrustComponent
    from connector.web.component import WebComponent

    return [
        ManagementApi(),
        TrustComponent(),
        ProvenanceComponent(),
        DspComponent(),
        MarketComponent(),  # after dsp: wraps its decider, adds its catalog offers
        NgsiLdProxy(),  # serves /ngsi-ld/v1 instead of the broker in proxy mode
        NgsiLdSubscriptions(),  # before the broker: joins its routes
        NgsiLdTemporal(),  # before the broker: joins its routes
        NgsiLdBroker(),
        FederatedCatalog(),  # after trust and dsp: their resolver, client and tokens
        EnforcementComponent(),  # needs provenance and dsp started
        WebComponent(),  # pages over the services above; no API of its own
    ]
