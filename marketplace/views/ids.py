"""Identifiers shared by the views, so the DSP offer and the TMF620 price point at each other."""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from ..offerings import Offering

TMF620_PATH: Final = "/tmf-api/productCatalogManagement/v4"


def offer_id(offering: Offering, plan_id: str) -> str:
    """The DSP Offer ``@id`` of one plan of one offering version (stable across re-rendering)."""
    return f"urn:agora:offer:{offering.id}:{offering.version}:{plan_id}"


def pop_id(offering: Offering, plan_id: str, part: str | None = None) -> str:
    """The TMF620 productOfferingPrice id of a plan (or of one of its parts: a tier, a quota)."""
    base = f"{offering.id}:{offering.version}:{plan_id}"
    return f"{base}:{part}" if part else base


def href(base_url: str | None, resource: str, ident: str) -> str | None:
    """The TMF620 href of a resource, when the connector's public base URL is known."""
    if not base_url:
        return None
    return f"{base_url.rstrip('/')}{TMF620_PATH}/{resource}/{quote(ident, safe=':')}"


def price_reference(offering: Offering, plan_id: str, base_url: str | None = None) -> str:
    """Where the full price description (the tier table) is read: its TMF620 price."""
    ident = pop_id(offering, plan_id)
    return (
        href(base_url, "productOfferingPrice", ident) or f"urn:agora:productOfferingPrice:{ident}"
    )
