"""Agora's extensions to DSP 2025-1, as advertised in a participant's DID document.

A data space is many vendors: a peer that speaks only DSP 2025-1 sends no provider signature and
has no receipt exchange. So an extension is used with a peer only when the peer says it speaks
it, in its DID document:

* the provider's agreement signature: the DSP service entry (``DataService``) lists
  :data:`AGREEMENT_SIGNATURE` under the property :data:`EXTENSIONS`;
* the ledger receipt exchange: a service entry of type :data:`LEDGER_SERVICE` whose endpoint is
  the base of ``/receipts`` and ``/records``.

The same extensions are advertised in our DSP catalog, on its ``DataService`` entries (the
catalog's ``service`` and each distribution's ``accessService``): the property
:data:`EXTENSIONS` lists :data:`AGREEMENT_SIGNATURE` and, while the receipt exchange runs,
:data:`LEDGER_EXCHANGE`. A peer that never publishes a DID document entry for them may say so in
its catalog: what a catalog fetched from the peer (through the management API, authenticated as
that peer's DID) advertised is kept per DID (``dsp_peer_extensions``) and honoured like the DID
document's. Either source can only add an extension, never take one the other advertises away,
so a catalog cannot talk us out of requiring a signature.

Other components add the extensions they speak to the list under :data:`ADVERTISED` in
``ctx.components`` (the marketplace: its evm prepayment exchange); :func:`speaks` reads any of
them back from a peer's document.

A peer that advertises the signature must sign every agreement; one that does not may send an
unsigned agreement (stored and logged as unsigned). Receipts go only to peers advertising the
exchange (ledger service entry, or the catalog's :data:`LEDGER_EXCHANGE`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from connector.dsp.tables import peer_extensions
from connector.storage.inline import Conn
from identity.did_document import DidDocument

#: property of the DataService entry: the list of Agora extensions the participant speaks
EXTENSIONS = "https://w3id.org/agora/dsp#extensions"
AGREEMENT_SIGNATURE = "https://w3id.org/agora/dsp#providerSignature"
#: service type of the ledger receipt exchange (endpoint: ``<base>/ledger/v1``)
LEDGER_SERVICE = "AgoraLedgerExchange"
#: the receipt exchange as a catalog extension (receipts go to ``<peer base>/ledger/v1``)
LEDGER_EXCHANGE = "https://w3id.org/agora/dsp#ledgerExchange"
KNOWN = (AGREEMENT_SIGNATURE, LEDGER_EXCHANGE)
LEDGER_PATH = "/ledger/v1"
#: ``ctx.components`` key: more extension IRIs this connector speaks (added by components)
ADVERTISED = "dsp.extensions"


def dsp_properties(more: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """What we add to our own DSP service entry."""
    return {EXTENSIONS: [AGREEMENT_SIGNATURE, *(x for x in more if x != AGREEMENT_SIGNATURE)]}


def ledger_service(did: str, public_url: str) -> dict[str, Any]:
    """Our ledger exchange's service entry (published when the provenance component runs)."""
    return {
        "id": f"{did}#ledger-exchange",
        "type": LEDGER_SERVICE,
        "serviceEndpoint": public_url.rstrip("/") + LEDGER_PATH,
    }


def speaks(document: DidDocument, extension: str) -> bool:
    """Does the peer list ``extension`` on its DSP service entry?"""
    for service in document.services:
        if service.type != "DataService":
            continue
        listed = service.properties.get(EXTENSIONS)
        if isinstance(listed, str):
            listed = [listed]
        if isinstance(listed, list) and extension in listed:
            return True
    return False


def signs_agreements(document: DidDocument) -> bool:
    """Does the peer advertise the provider signature on its DSP service entry?"""
    return speaks(document, AGREEMENT_SIGNATURE)


def ledger_endpoint(document: DidDocument) -> str | None:
    """The peer's ledger exchange base URL, or None when it advertises none."""
    service = document.service(LEDGER_SERVICE)
    if service is None:
        return None
    return service.endpoint.rstrip("/")


def advertised(ctx: Any) -> dict[str, Any]:
    """Keyword arguments for ``Participant.did_document``: the extensions this connector speaks
    (the receipt exchange only while the provenance component runs one)."""
    extra: list[dict[str, Any]] = []
    provenance = ctx.components.get("provenance")
    if provenance is not None and getattr(provenance, "exchange", None) is not None:
        extra.append(ledger_service(ctx.settings.did, ctx.settings.public_url))
    more = ctx.components.get(ADVERTISED) or ()
    return {"dsp_properties": dsp_properties(tuple(more)), "extra_services": extra}


def catalog_properties(ctx: Any) -> dict[str, Any]:
    """What we add to the DataService entries of our DSP catalog."""
    listed = [AGREEMENT_SIGNATURE, *(ctx.components.get(ADVERTISED) or ())]
    provenance = ctx.components.get("provenance")
    if provenance is not None and getattr(provenance, "exchange", None) is not None:
        listed.append(LEDGER_EXCHANGE)
    return {EXTENSIONS: listed}


def _services(catalog: dict[str, Any]) -> Iterable[Any]:
    def many(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [value] if value is not None else []

    yield from many(catalog.get("service"))
    for dataset in many(catalog.get("dataset")):
        if isinstance(dataset, dict):
            for dist in many(dataset.get("distribution")):
                if isinstance(dist, dict):
                    yield from many(dist.get("accessService"))


def in_catalog(catalog: dict[str, Any]) -> list[str]:
    """The Agora extensions a peer's catalog advertises on its DataService entries (the ones
    we know; anything else listed is ignored)."""
    found: set[str] = set()
    for service in _services(catalog):
        if not isinstance(service, dict):
            continue
        listed = service.get(EXTENSIONS)
        listed = [listed] if isinstance(listed, str) else listed
        if isinstance(listed, list):
            found.update(x for x in listed if x in KNOWN)
    return sorted(found)


async def remember_catalog(conn: Conn, did: str, catalog: dict[str, Any]) -> None:
    """Keep what ``did``'s catalog advertised (replacing what an earlier fetch said)."""
    listed = in_catalog(catalog)
    await conn.execute(delete(peer_extensions).where(peer_extensions.c.did == did))
    if listed:
        await conn.execute(
            insert(peer_extensions).values(
                did=did, extensions=json.dumps(listed), updated_at=datetime.now(UTC)
            )
        )


async def from_catalog(source: Conn | AsyncEngine, did: str) -> frozenset[str]:
    """The extensions ``did``'s last fetched catalog advertised (empty when none was)."""
    query = select(peer_extensions.c.extensions).where(peer_extensions.c.did == did)
    if isinstance(source, AsyncEngine):
        async with source.connect() as conn:
            raw = (await conn.execute(query)).scalar()
    else:
        raw = (await source.execute(query)).scalar()
    return frozenset(json.loads(raw)) if raw else frozenset()
