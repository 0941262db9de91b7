"""The one decoder of JSON the connector did not write itself: request bodies, peers' answers.

The stdlib decoder recurses on the C stack (a body of 100,000 ``[`` is a stack overflow when the
recursion limit is high) and accepts what cannot be served back as JSON: ``NaN``, ``Infinity``,
``1e999``, lone surrogates, integers of any length (``1`` and 400 zeros, which SQLite then fails
to bind). orjson refuses all of these and never overflows the stack (it stops at 1,024 levels);
on top of it :func:`loads` refuses documents nested deeper than :data:`MAX_DEPTH`, so the code
that walks a document recursively (JSON-LD expansion, the evaluators) stays far from any limit.
"""

from __future__ import annotations

from typing import Any

import orjson

#: Deepest nesting of arrays and objects accepted; real documents (a GeoJSON multipolygon in an
#: NGSI-LD entity, an ODRL offer in a DSP message, a VC in a JWT) stay well below 20.
MAX_DEPTH = 64


#: orjson's messages for text that is JSON by RFC 8259's grammar but carries what JSON cannot
#: hold (a number beyond a double, a lone surrogate): bad data rather than bad syntax.
_CONTENT_ERRORS = (
    "number is infinity",
    "invalid high surrogate",
    "invalid low surrogate",
    "no low surrogate",
)


class UnsafeJson(ValueError):
    """The text is not JSON the connector accepts; ``reason`` says why (for a 400's detail).

    ``syntax`` is false when the text parses by JSON's grammar but is refused for its content
    (too deep, a number no double holds, a lone surrogate): NGSI-LD answers BadRequestData for
    those and InvalidRequest for the rest."""

    def __init__(self, reason: str, *, syntax: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.syntax = syntax


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded document, or :class:`UnsafeJson`: malformed, empty, not UTF-8, a number that
    overflows a double, NaN/Infinity, a lone surrogate, or nested deeper than ``max_depth``."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if message.startswith("depth limit exceeded"):  # orjson's own limit, 1,024
            raise UnsafeJson(_too_deep(max_depth), syntax=False) from None
        if message.startswith(_CONTENT_ERRORS):
            raise UnsafeJson(f"JSON that cannot be stored: {message}", syntax=False) from None
        raise UnsafeJson(f"malformed JSON: {message}") from None
    if _openings(raw) > max_depth and not within_depth(doc, max_depth):
        raise UnsafeJson(_too_deep(max_depth), syntax=False)
    return doc


def _too_deep(max_depth: int) -> str:
    return f"the JSON is nested deeper than {max_depth} levels of arrays and objects"


def _openings(raw: bytes | str) -> int:
    """Arrays and objects opened in the text, an upper bound of its depth (a C-speed count
    that spares small documents the walk)."""
    if isinstance(raw, str):
        return raw.count("[") + raw.count("{")
    return raw.count(b"[") + raw.count(b"{")


def within_depth(doc: Any, max_depth: int = MAX_DEPTH) -> bool:
    """Whether no path through ``doc`` crosses more than ``max_depth`` arrays and objects
    (iterative: a deep document cannot exhaust the stack here either)."""
    if type(doc) is not dict and type(doc) is not list:
        return True
    stack: list[tuple[Any, int]] = [(doc, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if depth > max_depth:
            return False
        for child in node.values() if type(node) is dict else node:
            kind = type(child)
            if kind is dict or kind is list:
                push((child, depth + 1))
    return True
