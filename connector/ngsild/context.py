"""@context handling: bundled documents, an offline loader and term maps for fast (de)expansion.

NGSI-LD only needs JSON-LD for one thing on the hot path: turning short names (entity types,
attribute names, vocab values) into IRIs and back. Running pyld's full expansion algorithm on
every entity costs milliseconds, so a context is reduced once to a :class:`TermMap` (cached by
its JSON text) and every entity is then (de)expanded with dictionary look-ups. Simple contexts
(term → IRI strings or ``{"@id": …}`` definitions, prefixes, ``@vocab``) are read directly;
anything richer (scoped contexts, ``@import``, …) goes through pyld's context processing, whose
resulting term definitions are taken over. The core context is always applied last, so its
terms cannot be redefined (it is ``@protected``).

Remote contexts are not fetched here: a URL must be one of the bundled documents or one that
:mod:`connector.ngsild.remote_context` fetched for the current request from the operator's
allow-list (handed over in :data:`REMOTE_DOCUMENTS`), otherwise the request fails with
``LdContextNotAvailable`` (503).
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pyld import jsonld
from pyld.context_resolver import ContextResolver

from connector.ngsild.errors import NgsiError, bad_data, context_unavailable

HERE = Path(__file__).resolve().parent / "contexts"
CORE_URL = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
SDM_URL = "https://smartdatamodels.org/context.jsonld"
NGSI_LD = "https://uri.etsi.org/ngsi-ld/"
DEFAULT_VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"

#: URL → bundled file. Older core context URLs resolve to the v1.8 document (a superset); so
#: does v1.9's, whose additions (terms of features this broker does not implement) it lacks.
BUNDLED_FILES: dict[str, str] = {
    CORE_URL: "ngsi-ld-core-context-v1.8.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.9.jsonld": (
        "ngsi-ld-core-context-v1.8.jsonld"
    ),
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld": (
        "ngsi-ld-core-context-v1.8.jsonld"
    ),
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.7.jsonld": (
        "ngsi-ld-core-context-v1.8.jsonld"
    ),
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.6.jsonld": (
        "ngsi-ld-core-context-v1.8.jsonld"
    ),
    SDM_URL: "smart-data-models.jsonld",
    "https://raw.githubusercontent.com/smart-data-models/data-models/master/context.jsonld": (
        "smart-data-models.jsonld"
    ),
}
CORE_URLS = frozenset(u for u, f in BUNDLED_FILES.items() if f.startswith("ngsi-ld-core"))
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_SIMPLE_KEYWORDS = {"@version", "@protected", "@language", "@direction", "@propagate"}


@dataclass(frozen=True)
class Fetched:
    """A remote context document fetched from the allow-list; the serial tells fetches apart
    (a refetched document may differ, so term maps built from it are cached per serial)."""

    document: dict[str, Any]
    serial: int


#: the remote documents fetched for the request being handled (url → document)
NONE_FETCHED: Mapping[str, Fetched] = MappingProxyType({})
REMOTE_DOCUMENTS: ContextVar[Mapping[str, Fetched]] = ContextVar(
    "ngsild_remote_contexts", default=NONE_FETCHED
)


@cache
def bundled_document(url: str) -> dict[str, Any]:
    """The parsed bundled document for ``url``, or LdContextNotAvailable."""
    name = BUNDLED_FILES.get(url)
    if name is None:
        raise context_unavailable(
            f"the @context {url} is not available: it is neither bundled "
            f"({', '.join(sorted(BUNDLED_FILES))}) nor under a URL prefix the operator allows "
            "to fetch ([ngsild] context_allow); send the context inline instead"
        )
    doc: dict[str, Any] = json.loads((HERE / name).read_text(encoding="utf-8"))
    return doc


def context_document(url: str) -> dict[str, Any]:
    """A bundled document, or one fetched for this request, or LdContextNotAvailable."""
    fetched = REMOTE_DOCUMENTS.get().get(url)
    if fetched is not None and url not in BUNDLED_FILES:
        return fetched.document
    return bundled_document(url)


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader that never touches the network."""
    try:
        doc = context_document(url)
    except NgsiError as exc:
        raise jsonld.JsonLdError(
            str(exc), "jsonld.LoadDocumentError", code="loading remote context failed"
        ) from None
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        "document": doc,
    }


_PYLD_CACHE: Any = jsonld.LRUCache(maxsize=64)


class _NotSimple(Exception):
    pass


class TermMap:
    """Term ⇄ IRI look-ups of one active context (user context + core context)."""

    __slots__ = ("_compact_cache", "iris", "terms", "vocab")

    def __init__(self, terms: dict[str, str], vocab: str) -> None:
        self.terms = terms
        self.vocab = vocab
        self.iris: dict[str, str] = {}
        # The shortest term wins for an IRI with several terms, so output stays stable.
        for term, iri in sorted(terms.items(), key=lambda kv: (len(kv[0]), kv[0]), reverse=True):
            if not term.startswith("@") and iri:
                self.iris[iri] = term
        self._compact_cache: dict[str, str] = {}

    def expand(self, term: str) -> str:
        """The IRI a name stands for (term, compact IRI, absolute IRI, or @vocab-relative)."""
        iri = self.terms.get(term)
        if iri is not None:
            return iri
        prefix, colon, suffix = term.partition(":")
        if colon:
            base = self.terms.get(prefix)
            if base is not None and not suffix.startswith("//"):
                return base + suffix
            return term
        return self.vocab + term

    def compact(self, iri: str) -> str:
        """The short name to show for an IRI under this context."""
        hit = self._compact_cache.get(iri)
        if hit is not None:
            return hit
        term = self.iris.get(iri)
        if term is None:
            if iri.startswith(self.vocab) and ":" not in iri[len(self.vocab) :]:
                term = iri[len(self.vocab) :]
            else:
                term = iri
        if len(self._compact_cache) < 10_000:
            self._compact_cache[iri] = term
        return term


def _expand_with(terms: dict[str, str], value: str, vocab: str) -> str:
    if value in terms:
        return terms[value]
    prefix, colon, suffix = value.partition(":")
    if colon:
        if prefix in terms and not suffix.startswith("//"):
            return terms[prefix] + suffix
        return value
    return vocab + value


def _simple_terms(ctx: dict[str, Any], terms: dict[str, str], state: dict[str, str]) -> None:
    """Read a context object that uses only term → IRI features; raise _NotSimple otherwise."""
    for key, value in ctx.items():
        if key == "@vocab":
            if not isinstance(value, str):
                raise _NotSimple
            state["vocab"] = _expand_with(terms, value, state["vocab"]) if value else ""
            continue
        if key in _SIMPLE_KEYWORDS:
            continue
        if key.startswith("@"):
            raise _NotSimple
        if value is None:
            terms.pop(key, None)
            continue
        if isinstance(value, dict):
            if set(value) - {"@id", "@type", "@container", "@language", "@protected"}:
                raise _NotSimple
            target = value.get("@id", key)
        else:
            target = value
        if not isinstance(target, str):
            raise _NotSimple
        if target.startswith("@"):
            terms[key] = target
        else:
            terms[key] = _expand_with(terms, target, state["vocab"])


def _add_context(item: Any, terms: dict[str, str], state: dict[str, str], depth: int = 0) -> None:
    if depth > 8:
        raise bad_data("the @context nests remote contexts more than 8 levels deep")
    if item is None:
        terms.clear()
        state["vocab"] = ""
        return
    if isinstance(item, str):
        if item in CORE_URLS:
            return  # applied last anyway
        doc = context_document(item)
        _add_context(doc.get("@context"), terms, state, depth + 1)
        return
    if isinstance(item, list):
        for sub in item:
            _add_context(sub, terms, state, depth + 1)
        return
    if isinstance(item, dict):
        try:
            trial = dict(terms)
            trial_state = dict(state)
            _simple_terms(item, trial, trial_state)
        except _NotSimple:
            _pyld_terms(item, terms, state)
            return
        terms.clear()
        terms.update(trial)
        state.update(trial_state)
        return
    raise bad_data(f"an @context entry must be a URL, an object or a list, not {item!r}")


def _pyld_terms(item: dict[str, Any], terms: dict[str, str], state: dict[str, str]) -> None:
    """The general case: let pyld process the context, then take over its term mappings."""
    proc = jsonld.JsonLdProcessor()
    active = proc._get_initial_context({})
    seed: dict[str, Any] = {k: v for k, v in terms.items()}
    if state["vocab"]:
        seed["@vocab"] = state["vocab"]
    # A private resolver cache: pyld's default one is process-wide, and entries left there by
    # other loaders (policies, DSP) must neither leak into our contexts nor ours into theirs.
    # fetched documents expire: never let pyld's resolver cache keep them
    cache = jsonld.LRUCache(maxsize=16) if REMOTE_DOCUMENTS.get() else _PYLD_CACHE
    options = {
        "documentLoader": document_loader,
        "processingMode": "json-ld-1.1",
        "contextResolver": ContextResolver(cache, document_loader),
    }
    try:
        active = proc.process_context(active, seed, options)
        active = proc.process_context(active, item, options)
    except jsonld.JsonLdError as exc:
        if "loading remote context failed" in str(getattr(exc, "code", "")):
            raise context_unavailable(f"a remote @context could not be loaded: {exc}") from None
        raise bad_data(f"the @context is not valid JSON-LD: {exc}") from None
    terms.clear()
    for term, definition in active.get("mappings", {}).items():
        if definition and isinstance(definition.get("@id"), str):
            terms[term] = definition["@id"]
    state["vocab"] = active.get("@vocab", "") or ""


def _core_terms() -> tuple[dict[str, str], str]:
    terms: dict[str, str] = {}
    state = {"vocab": ""}
    _simple_terms(bundled_document(CORE_URL)["@context"], terms, state)
    return terms, state["vocab"]


CORE_TERMS, CORE_VOCAB = _core_terms()
CORE = TermMap(dict(CORE_TERMS), CORE_VOCAB)
_CACHE: OrderedDict[str, TermMap] = OrderedDict()
_CACHE_SIZE = 256


def term_map(context: Any) -> TermMap:
    """The TermMap of a request's @context (None or the core URL: the core context alone)."""
    if context is None or (isinstance(context, str) and context in CORE_URLS):
        return CORE
    key = context if isinstance(context, str) else json.dumps(context, sort_keys=True)
    remote = REMOTE_DOCUMENTS.get()
    if remote:  # a refetched remote document may have changed: cache per fetch
        key += "\n" + " ".join(f"{u}#{f.serial}" for u, f in sorted(remote.items()))
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    terms: dict[str, str] = {}
    state = {"vocab": ""}
    _add_context(context, terms, state)
    terms.update(CORE_TERMS)  # the core context is protected and applied last
    result = TermMap(terms, CORE_VOCAB)
    _CACHE[key] = result
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return result


def validate_context_value(context: Any) -> None:
    """Reject an @context that is not a URL, an object or a list of those."""
    items = context if isinstance(context, list) else [context]
    for item in items:
        if isinstance(item, str):
            if not _ABSOLUTE.match(item):
                raise bad_data(f"the @context URL {item!r} is not an absolute URL")
        elif not isinstance(item, dict):
            raise bad_data("an @context must be a URL, an object, or a list of these")


def link_header(url: str) -> str:
    return f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'


_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")


def context_from_link(header: str | None) -> str | None:
    """The JSON-LD context URL of a Link header, or None."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        params = match.group(2)
        if "json-ld#context" in params:
            url = match.group(1).strip()
            if not _ABSOLUTE.match(url):
                raise bad_data(f"the Link header context {url!r} is not an absolute URL")
            return url
    return None
