"""Decoding JSON text found inside policies (a GeoJSON rightOperand, an rdf:JSON literal, a
policy given as text): such text arrives from peers inside DSP messages.

The stdlib decoder recurses on the C stack and takes NaN, Infinity and numbers no double holds;
orjson does neither, and :func:`loads` bounds the nesting further, iteratively. Failures are
``json.JSONDecodeError`` (a ``ValueError``), which the callers already turn into their errors.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: Deepest nesting accepted; a GeoJSON multipolygon is five levels deep.
MAX_DEPTH = 64


def loads(text: str | bytes) -> Any:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise json.JSONDecodeError(str(exc), exc.doc, exc.pos) from None
    stack: list[tuple[Any, int]] = [(doc, 1)] if isinstance(doc, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise json.JSONDecodeError(f"nested deeper than {MAX_DEPTH} levels", "", 0)
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return doc
