"""The DSP catalog's view of the published offerings: each plan is one ``hasPolicy`` Offer,
derived by ``marketplace.views.dsp`` from the stored offering (never written by hand).

Only the *published* version of an offering is offered and negotiable: a retired version (one
superseded by an edit, or retired by its owner) leaves the catalog at once, while agreements made
under it keep finding it through :func:`connector.market.store.version_of`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, select

from connector.market import store
from connector.market.tables import offerings
from connector.storage.inline import Conn
from marketplace.errors import MarketplaceError
from marketplace.offerings import Lifecycle
from marketplace.views.dsp import dsp_offer, dsp_offers


class OfferingSource:
    """:class:`connector.dsp.catalog.OfferSource` over ``market_offerings``."""

    def dataset_ids(self) -> Select[Any]:
        return select(offerings.c.dataset_id).where(
            offerings.c.lifecycle == Lifecycle.PUBLISHED.value
        )

    async def offers_of(
        self, conn: Conn, dataset_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for offering in await store.published(conn, dataset_ids):
            out.setdefault(offering.dataset_id, []).extend(dsp_offers(offering))
        return out

    async def find_offer(self, conn: Conn, offer_id: str) -> tuple[str, dict[str, Any]] | None:
        parsed = store.parse_offer_id(offer_id)
        if parsed is None:
            return None
        oid, version, plan_id = parsed
        row = (
            await conn.execute(
                select(offerings.c.document).where(
                    and_(
                        offerings.c.id == oid,
                        offerings.c.version == version,
                        offerings.c.lifecycle == Lifecycle.PUBLISHED.value,
                    )
                )
            )
        ).first()
        if row is None:
            return None
        offering = store.decode(row.document)
        try:
            po = offering.plan(plan_id)
        except MarketplaceError:
            return None
        return offering.dataset_id, dsp_offer(offering, po)
