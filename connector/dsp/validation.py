"""Validate DSP messages against the bundled DSP 2025-1 JSON schemas (never fetched).

Every incoming message is checked before any state is touched, and every outgoing message is
checked before it is stored in the outbox, so a bug on our side fails here and not at the peer.

Two validators share the work: jsonschema-rs answers "valid?" (about a microsecond for an
agreement message, against most of a millisecond in pure Python, twice per DSP hop), and the
Python ``jsonschema`` explains a message that is not, so the reason a peer reads keeps its JSON
pointer and its wording.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs
from jsonschema import Draft201909Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

BASE = "https://w3id.org/dspace/2025/1/"

#: message @type -> schema file (relative to the bundled schemas directory)
SCHEMA_FOR_TYPE: dict[str, str] = {
    "CatalogRequestMessage": "catalog/catalog-request-message-schema.json",
    "DatasetRequestMessage": "catalog/dataset-request-message-schema.json",
    "Catalog": "catalog/catalog-schema.json",
    "Dataset": "catalog/dataset-schema.json",
    "CatalogError": "catalog/catalog-error-schema.json",
    "ContractRequestMessage": "negotiation/contract-request-message-schema.json",
    "ContractOfferMessage": "negotiation/contract-offer-message-schema.json",
    "ContractAgreementMessage": "negotiation/contract-agreement-message-schema.json",
    "ContractAgreementVerificationMessage": (
        "negotiation/contract-agreement-verification-message-schema.json"
    ),
    "ContractNegotiationEventMessage": "negotiation/contract-negotiation-event-message-schema.json",
    "ContractNegotiationTerminationMessage": (
        "negotiation/contract-negotiation-termination-message-schema.json"
    ),
    "ContractNegotiation": "negotiation/contract-negotiation-schema.json",
    "ContractNegotiationError": "negotiation/contract-negotiation-error-schema.json",
    "TransferRequestMessage": "transfer/transfer-request-message-schema.json",
    "TransferStartMessage": "transfer/transfer-start-message-schema.json",
    "TransferSuspensionMessage": "transfer/transfer-suspension-message-schema.json",
    "TransferCompletionMessage": "transfer/transfer-completion-message-schema.json",
    "TransferTerminationMessage": "transfer/transfer-termination-message-schema.json",
    "TransferProcess": "transfer/transfer-process-schema.json",
    "TransferError": "transfer/transfer-error-schema.json",
    "VersionResponse": "common/protocol-version-schema.json",
}


class SchemaViolation(ValueError):
    """A message does not validate; ``reason`` names the JSON pointer and the failed rule."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _normalise_refs(node: Any) -> Any:
    # The published transfer schemas write "#definitions/…" where a JSON pointer needs
    # "#/definitions/…"; Java validators tolerate it, the JSON Schema spec does not. We repair
    # the reference in memory and leave the bundled files byte-identical to the release.
    if isinstance(node, dict):
        out = {k: _normalise_refs(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and "#definitions/" in ref:
            out["$ref"] = ref.replace("#definitions/", "#/definitions/")
        return out
    if isinstance(node, list):
        return [_normalise_refs(v) for v in node]
    return node


def _schema_files() -> dict[str, dict[str, Any]]:
    root = resources.files("connector.dsp") / "schemas"
    out: dict[str, dict[str, Any]] = {}
    for area in ("common", "catalog", "negotiation", "transfer"):
        for entry in (root / area).iterdir():
            if entry.name.endswith("-schema.json"):
                doc = json.loads(entry.read_text(encoding="utf-8"))
                out[f"{area}/{entry.name}"] = _normalise_refs(doc)
    return out


@cache
def _registry() -> Registry[Any]:
    resources_: list[tuple[str, Resource[Any]]] = []
    for rel, doc in _schema_files().items():
        resources_.append((BASE + rel, DRAFT201909.create_resource(doc)))
    return Registry().with_resources(resources_)


@cache
def validator(message_type: str) -> Draft201909Validator:
    rel = SCHEMA_FOR_TYPE[message_type]
    schema = _registry().contents(BASE + rel)
    return Draft201909Validator(schema, registry=_registry())


@cache
def _fast_registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(BASE + rel, doc) for rel, doc in _schema_files().items()])


@cache
def fast_validator(message_type: str) -> jsonschema_rs.Draft201909Validator:
    rel = SCHEMA_FOR_TYPE[message_type]
    return jsonschema_rs.Draft201909Validator(
        _registry().contents(BASE + rel), registry=_fast_registry(), base_uri=BASE + rel
    )


def _reason(path: Iterable[Any], message: str) -> str:
    """The JSON pointer of the offending value and what is wrong with it."""
    pointer = "/" + "/".join(str(p) for p in path)
    return f"{pointer}: {message}"[:500]


def validate(message_type: str, document: Any) -> None:
    """Raise :class:`SchemaViolation` unless ``document`` is a valid ``message_type``."""
    if not isinstance(document, dict):
        raise SchemaViolation("/: a JSON object is expected")
    found = document.get("@type")
    if message_type != "VersionResponse" and found != message_type:
        raise SchemaViolation(f"/@type: {message_type!r} expected, got {found!r}")
    fast = fast_validator(message_type)
    if fast.is_valid(document):
        return
    errors = sorted(validator(message_type).iter_errors(document), key=lambda e: e.path)
    if errors:
        best = min(errors, key=lambda e: len(list(e.absolute_path)))
        raise SchemaViolation(_reason(best.absolute_path, best.message))
    # the validators disagree (a regex dialect, say): refuse in the strict one's words
    first = next(iter(fast.iter_errors(document)))
    raise SchemaViolation(_reason(first.instance_path, first.message))
