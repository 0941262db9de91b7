"""Bundled JSON-LD contexts and a document loader that never touches the network.

Policies arrive from other connectors; fetching a context they name would let a peer make us
call arbitrary URLs. Only the contexts shipped in ``policies/contexts/`` are served.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from .errors import PolicyError

ODRL_CONTEXT_URL = "http://www.w3.org/ns/odrl.jsonld"
DSP_CONTEXT_URL = "https://w3id.org/dspace/2025/1/context.jsonld"
DSP_ODRL_PROFILE_URL = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"

_FILES = {
    ODRL_CONTEXT_URL: "odrl.jsonld",
    "https://www.w3.org/ns/odrl.jsonld": "odrl.jsonld",
    "http://www.w3.org/ns/odrl/2/": "odrl.jsonld",
    DSP_CONTEXT_URL: "dspace-2025-1.jsonld",
    DSP_ODRL_PROFILE_URL: "dspace-2025-1-odrl-profile.jsonld",
}


@cache
def load_context(url: str) -> dict[str, Any]:
    """The parsed bundled document for ``url``; unknown URLs are a :class:`PolicyError`."""
    name = _FILES.get(url)
    if name is None:
        raise PolicyError("$.@context", f"unknown remote context {url!r} (only bundled ones load)")
    text = resources.files("policies").joinpath("contexts", name).read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """pyld document loader serving only bundled contexts."""
    return {"contextUrl": None, "documentUrl": url, "document": load_context(url)}


@dataclass(frozen=True, slots=True)
class Term:
    iri: str
    coerce: str | None  # "@id", "@vocab", a datatype IRI or None


@dataclass(frozen=True, slots=True)
class TermTable:
    """The subset of a JSON-LD context the fast compact parser needs."""

    terms: dict[str, Term]
    prefixes: dict[str, str]
    id_aliases: frozenset[str]
    type_aliases: frozenset[str]

    def expand_prefixed(self, value: str) -> str:
        """Expand ``prefix:suffix`` when the prefix is known; other strings are returned as is."""
        head, sep, tail = value.partition(":")
        if sep and not tail.startswith("//"):
            base = self.prefixes.get(head)
            if base is not None:
                return base + tail
        return value

    def expand_vocab(self, value: str) -> str:
        """Expand a value in a vocabulary position (``@type``, ``action``, ``leftOperand`` …)."""
        term = self.terms.get(value)
        if term is not None:
            return term.iri
        return self.expand_prefixed(value)


def _table(ctx: dict[str, Any]) -> TermTable:
    prefixes: dict[str, str] = {}
    raw: dict[str, Any] = {}
    id_aliases, type_aliases = set(), set()
    for key, val in ctx.items():
        if key.startswith("@"):
            continue
        if val == "@id":
            id_aliases.add(key)
        elif val == "@type":
            type_aliases.add(key)
        elif isinstance(val, str) and (val.endswith("/") or val.endswith("#")):
            prefixes[key] = val
        else:
            raw[key] = val
    table = TermTable({}, prefixes, frozenset(id_aliases), frozenset(type_aliases))
    for key, val in raw.items():
        if isinstance(val, str):
            table.terms[key] = Term(table.expand_prefixed(val), None)
        elif isinstance(val, dict) and isinstance(val.get("@id"), str):
            coerce = val.get("@type")
            if isinstance(coerce, str) and not coerce.startswith("@"):
                coerce = table.expand_prefixed(coerce)
            table.terms[key] = Term(table.expand_prefixed(val["@id"]), coerce)
    return table


def merge(*tables: TermTable) -> TermTable:
    terms: dict[str, Term] = {}
    prefixes: dict[str, str] = {}
    ids: set[str] = set()
    types: set[str] = set()
    for t in tables:
        terms.update(t.terms)
        prefixes.update(t.prefixes)
        ids |= t.id_aliases
        types |= t.type_aliases
    return TermTable(terms, prefixes, frozenset(ids), frozenset(types))


@cache
def term_table(url: str) -> TermTable:
    """Term table of a known context URL, for the fast compact parser."""
    if url == DSP_CONTEXT_URL:
        # A policy inside a DSP message sees the ODRL profile (imported, propagated) and the
        # agreement's ``timestamp`` from the ContractAgreementMessage scoped context.
        dsp = load_context(DSP_CONTEXT_URL)["@context"]
        extra = TermTable(
            {"timestamp": Term(dsp["dspace"] + "timestamp", None)},
            {k: v for k, v in dsp.items() if isinstance(v, str) and v.endswith(("/", "#"))},
            frozenset(),
            frozenset(),
        )
        return merge(term_table(DSP_ODRL_PROFILE_URL), extra)
    ctx = load_context(url)["@context"]
    return _table(ctx)


def is_known(url: str) -> bool:
    return url in _FILES
