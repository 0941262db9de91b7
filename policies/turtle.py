"""Turtle in and out, through rdflib.

Written from our expanded JSON-LD (so the triples are exactly what JSON-LD processors produce) and
read back by letting rdflib emit flattened JSON-LD, which the same builder understands.
"""

from __future__ import annotations

import json
import warnings

from rdflib import Graph

from .errors import PolicyError
from .jsonld import from_expanded, to_expanded
from .model import Policy
from .validate import validate


def to_graph(policy: Policy) -> Graph:
    g = Graph()
    with warnings.catch_warnings():
        # rdflib's own JSON-LD parser uses its deprecated ConjunctiveGraph internally.
        warnings.simplefilter("ignore", DeprecationWarning)
        g.parse(data=json.dumps([to_expanded(policy)]), format="json-ld")
    g.bind("odrl", "http://www.w3.org/ns/odrl/2/")
    g.bind("agora", "https://w3id.org/agora/policy#")
    g.bind("dspace", "https://w3id.org/dspace/2025/1/")
    return g


def to_turtle(policy: Policy) -> str:
    """The policy as Turtle."""
    return to_graph(policy).serialize(format="turtle")


def from_graph(graph: Graph, uid: str | None = None) -> Policy:
    nodes = json.loads(graph.serialize(format="json-ld"))
    policy = from_expanded(nodes, uid)
    validate(policy)
    return policy


def from_turtle(text: str, uid: str | None = None) -> Policy:
    """Read one policy from Turtle (``uid`` picks it when the graph holds several)."""
    g = Graph()
    try:
        g.parse(data=text, format="turtle")
    except Exception as exc:  # rdflib raises many parser-specific types
        raise PolicyError("$", f"not valid Turtle: {exc}") from None
    return from_graph(g, uid)
