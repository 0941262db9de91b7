"""Bundled JSON-LD contexts and a document loader that never goes to the network.

Credentials are only accepted with contexts we ship, so a credential cannot make any consumer
fetch a remote context (a tracking and availability risk) and its vocabulary is fixed.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from ..errors import IdentityError, Reason

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
STATUS_LIST_V1 = "https://www.w3.org/ns/credentials/status/v1"
AGORA_V1 = "https://w3id.org/agora/credentials/v1"

_FILES = {
    CREDENTIALS_V2: "credentials-v2.jsonld",
    STATUS_LIST_V1: "vc-bitstring-status-list-v1.jsonld",
    AGORA_V1: "agora-credentials-v1.jsonld",
}

KNOWN_CONTEXTS: frozenset[str] = frozenset(_FILES)


@cache
def load_context(url: str) -> dict[str, Any]:
    """The bundled context document for ``url``; unknown URLs raise ``UNKNOWN_CONTEXT``."""
    name = _FILES.get(url)
    if name is None:
        raise IdentityError(Reason.UNKNOWN_CONTEXT, f"context {url} is not bundled")
    data: dict[str, Any] = json.loads(resources.files(__package__).joinpath(name).read_text())
    return data


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pyld-compatible document loader over the bundled contexts only."""
    return {"contextUrl": None, "documentUrl": url, "document": load_context(url)}


def check_contexts(document: dict[str, Any], first: str) -> None:
    """The first @context must be ``first`` and every remote one must be bundled."""
    ctx = document.get("@context")
    items = ctx if isinstance(ctx, list) else [ctx]
    if not items or items[0] != first:
        raise IdentityError(Reason.INVALID_CLAIMS, f"the first @context must be {first}")
    for item in items:
        if isinstance(item, str) and item not in KNOWN_CONTEXTS:
            raise IdentityError(Reason.UNKNOWN_CONTEXT, f"context {item} is not bundled")
        if not isinstance(item, str | dict):
            raise IdentityError(Reason.INVALID_CLAIMS, "@context entries must be URLs or objects")
