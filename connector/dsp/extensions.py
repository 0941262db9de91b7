"""Agora's extensions to DSP 2025-1, as advertised in a participant's DID document.

A data space is many vendors: a peer that speaks only DSP 2025-1 sends no provider signature and
has no receipt exchange. So an extension is used with a peer only when the peer says it speaks
it, in its DID document:

* the provider's agreement signature: the DSP service entry (``DataService``) lists
  :data:`AGREEMENT_SIGNATURE` under the property :data:`EXTENSIONS`;
* the ledger receipt exchange: a service entry of type :data:`LEDGER_SERVICE` whose endpoint is
  the base of ``/receipts`` and ``/records``.

Other components add the extensions they speak to the list under :data:`ADVERTISED` in
``ctx.components`` (the marketplace: its evm prepayment exchange); :func:`speaks` reads any of
them back from a peer's document.

A peer that advertises the signature must sign every agreement; one that does not may send an
unsigned agreement (stored and logged as unsigned). Receipts go only to peers with the ledger
service entry.
"""

from __future__ import annotations

from typing import Any

from identity.did_document import DidDocument

#: property of the DataService entry: the list of Agora extensions the participant speaks
EXTENSIONS = "https://w3id.org/agora/dsp#extensions"
AGREEMENT_SIGNATURE = "https://w3id.org/agora/dsp#providerSignature"
#: service type of the ledger receipt exchange (endpoint: ``<base>/ledger/v1``)
LEDGER_SERVICE = "AgoraLedgerExchange"
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
