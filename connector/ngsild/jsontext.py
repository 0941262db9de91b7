"""Compact JSON text of stored entities, with each attribute instance encoded once per write.

A broker write stores every entity's document as one JSON text and, through the temporal
listener in the same transaction, one history row per changed attribute instance holding that
instance's JSON text. :class:`InstanceTexts` remembers the text of each instance it encoded, so
the document's text is put together from its instances' texts instead of encoding them again
(for a create, that second encoding was about a sixth of the writer thread's Python time).
The texts are the same as one ``json.dumps`` of the whole document with the same options.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection

_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
#: compact JSON text (one encoder for every call: json.dumps with options makes one per call)
compact = _ENCODER.encode

_INFO_KEY = "agora.ngsild.instance_texts"


class InstanceTexts:
    """The JSON texts of the attribute instances of one write transaction, keyed by object
    identity: valid only while those instances are alive and unchanged, i.e. within the
    transaction that made them (see :func:`transaction_texts`)."""

    __slots__ = ("_texts",)

    def __init__(self) -> None:
        self._texts: dict[int, str] = {}

    def instance(self, inst: dict[str, Any]) -> str:
        key = id(inst)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = compact(inst)
        return text

    def entity(self, doc: dict[str, Any]) -> str:
        """The document's text; attributes (names with ``:``, lists of instances) from their
        instances' texts, the entity's own members encoded directly."""
        parts = []
        for name, value in doc.items():
            if ":" in name and isinstance(value, list):
                inner = ",".join([self.instance(i) for i in value])
                parts.append(f"{compact(name)}:[{inner}]")
            else:
                parts.append(f"{compact(name)}:{compact(value)}")
        return "{" + ",".join(parts) + "}"


def transaction_texts(conn: Connection) -> InstanceTexts:
    """The texts shared by the writers of the transaction running on ``conn`` (opened by
    :func:`begin_texts`), or a private set when there is none."""
    texts = conn.info.get(_INFO_KEY)
    return texts if isinstance(texts, InstanceTexts) else InstanceTexts()


def begin_texts(conn: Connection) -> None:
    conn.info[_INFO_KEY] = InstanceTexts()


def end_texts(conn: Connection) -> None:
    """Forget the transaction's texts: their keys are object ids, which later objects reuse."""
    conn.info.pop(_INFO_KEY, None)
