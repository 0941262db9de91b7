"""The aggregated catalog as DCAT-AP 3 (Turtle or JSON-LD), for national open-data portals.

Built as an rdflib graph from the index's entries so both serialisations say the same thing:
one dcat:Catalog (the federation) with a dcat:Dataset per entry, its publisher (the member's
DID as a foaf:Agent), keywords, themes, licence, update frequency, spatial bounding box
(dcat:bbox, a GeoSPARQL WKT polygon), High-Value Dataset category (dcatap:hvdCategory) and one
dcat:Distribution whose access service is the member's DSP endpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

DCATAP = Namespace("http://data.europa.eu/r5r/")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
FORMATS = {"turtle": "text/turtle", "json-ld": "application/ld+json"}


def _ref(value: str) -> URIRef | Literal:
    return URIRef(value) if ":" in value and " " not in value else Literal(value)


def wkt_box(bbox: Sequence[float]) -> str:
    w, s, e, n = bbox
    return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def dcat_ap_graph(
    catalog_iri: str, title: str, items: Sequence[Mapping[str, Any]], endpoints: Mapping[str, str]
) -> Graph:
    """``items`` are search hits (``entry_view``); ``endpoints`` maps a node DID to its DSP URL."""
    g = Graph()
    for prefix, ns in (
        ("dcat", DCAT),
        ("dct", DCTERMS),
        ("foaf", FOAF),
        ("dcatap", DCATAP),
        ("gsp", GSP),
    ):
        g.bind(prefix, ns)
    catalog = URIRef(catalog_iri)
    g.add((catalog, RDF.type, DCAT.Catalog))
    g.add((catalog, DCTERMS.title, Literal(title)))
    for item in items:
        ds = URIRef(item["datasetId"]) if ":" in item["datasetId"] else BNode()
        g.add((catalog, DCAT.dataset, ds))
        g.add((ds, RDF.type, DCAT.Dataset))
        g.add((ds, DCTERMS.identifier, Literal(item["datasetId"])))
        g.add((ds, DCTERMS.title, Literal(item["title"])))
        if item.get("description"):
            g.add((ds, DCTERMS.description, Literal(item["description"])))
        publisher = URIRef(item["publisher"])
        g.add((ds, DCTERMS.publisher, publisher))
        g.add((publisher, RDF.type, FOAF.Agent))
        for keyword in item.get("keywords") or []:
            g.add((ds, DCAT.keyword, Literal(keyword)))
        for kind in item.get("entityTypes") or []:
            g.add((ds, DCAT.keyword, Literal(kind)))
        if item.get("license"):
            g.add((ds, DCTERMS.license, _ref(item["license"])))
        if item.get("frequency"):
            g.add((ds, DCTERMS.accrualPeriodicity, _ref(item["frequency"])))
        if item.get("hvdCategory"):
            g.add((ds, DCATAP.hvdCategory, _ref(item["hvdCategory"])))
            g.add(
                (
                    ds,
                    DCATAP.applicableLegislation,
                    URIRef("http://data.europa.eu/eli/reg_impl/2023/138/oj"),
                )
            )
        if item.get("modified"):
            g.add((ds, DCTERMS.modified, Literal(item["modified"])))
        if item.get("bbox"):
            place = BNode()
            g.add((ds, DCTERMS.spatial, place))
            g.add((place, RDF.type, DCTERMS.Location))
            g.add((place, DCAT.bbox, Literal(wkt_box(item["bbox"]), datatype=GSP.wktLiteral)))
        endpoint = endpoints.get(item["node"])
        if endpoint:
            dist, service = BNode(), BNode()
            g.add((ds, DCAT.distribution, dist))
            g.add((dist, RDF.type, DCAT.Distribution))
            g.add((dist, DCAT.accessURL, URIRef(endpoint)))
            g.add((dist, DCAT.accessService, service))
            g.add((service, RDF.type, DCAT.DataService))
            g.add((service, DCAT.endpointURL, URIRef(endpoint)))
            if item.get("license"):
                g.add((dist, DCTERMS.license, _ref(item["license"])))
        g.add(
            (
                ds,
                DCTERMS.accessRights,
                URIRef(
                    "http://publications.europa.eu/resource/authority/access-right/"
                    + ("PUBLIC" if item.get("free") and item.get("license") else "RESTRICTED")
                ),
            )
        )
    return g


def serialise(graph: Graph, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    return graph.serialize(format=fmt)
