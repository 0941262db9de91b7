"""The aggregated catalog over DSP: a catalog of catalogs, one nested dcat:Catalog per member.

As DSP 2025-1 shows for catalogs of catalogs: the outer Catalog is the federation's (its
``participantId`` is the aggregator), each nested Catalog carries its member's
``participantId`` and DataService, and holds the Dataset documents as the member served them,
so a consumer negotiates with the member itself (whose access control applies again there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


def catalog_of_catalogs(
    catalog_iri: str,
    aggregator_did: str,
    title: str,
    items: Sequence[Mapping[str, Any]],
    endpoints: Mapping[str, str],
) -> dict[str, Any]:
    nested: dict[str, dict[str, Any]] = {}
    for item in items:
        node = item["node"]
        inner = nested.get(node)
        if inner is None:
            inner = {
                "@id": f"{catalog_iri}/{node}",
                "@type": "Catalog",
                "participantId": node,
                "dataset": [],
            }
            if node in endpoints:
                inner["service"] = [
                    {
                        "@id": f"{endpoints[node]}#data-service",
                        "@type": "DataService",
                        "endpointURL": endpoints[node],
                    }
                ]
            nested[node] = inner
        doc = dict(item["dataset"])
        doc.pop("@context", None)
        inner["dataset"].append(doc)
    outer: dict[str, Any] = {
        "@context": [DSP_CONTEXT],
        "@id": catalog_iri,
        "@type": "Catalog",
        "participantId": aggregator_did,
        "dct:title": title,
    }
    if nested:
        outer["catalog"] = list(nested.values())
    return outer
