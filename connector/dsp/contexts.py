"""The JSON-LD contexts DSP messages use, bundled and served from memory (never fetched).

We process DSP messages as plain JSON (the spec allows it: its context is designed so that
compacted messages validate against the schemas); this loader is for peers' tools and for our
tests, which expand messages with pyld to show they mean what the DSP vocabulary says.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

BUNDLED = {
    "https://w3id.org/dspace/2025/1/context.jsonld": "dspace-2025-1.jsonld",
    "https://w3id.org/dspace/2025/1/odrl-profile.jsonld": "dspace-2025-1-odrl-profile.jsonld",
    "http://www.w3.org/ns/odrl.jsonld": "odrl.jsonld",
    "https://www.w3.org/ns/odrl.jsonld": "odrl.jsonld",
}


class UnknownContext(LookupError):
    """A context that is not bundled: we refuse to fetch it."""


@cache
def load_context(url: str) -> dict[str, Any]:
    name = BUNDLED.get(url)
    if name is None:
        raise UnknownContext(f"the JSON-LD context {url} is not bundled and is never fetched")
    text = (resources.files("connector.dsp") / "contexts" / name).read_text(encoding="utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def document_loader(url: str, options: Any = None) -> dict[str, Any]:
    """A pyld document loader over the bundled contexts."""
    return {"contextUrl": None, "documentUrl": url, "document": load_context(url)}


def pyld_options() -> dict[str, Any]:
    """pyld options with our loader *and our own resolved-context cache*: pyld's default cache
    is process-global, and other packages resolve the same URLs with their own loaders."""
    from pyld import jsonld
    from pyld.context_resolver import ContextResolver

    return {
        "documentLoader": document_loader,
        "contextResolver": ContextResolver(jsonld.LRUCache(maxsize=32), document_loader),
    }
