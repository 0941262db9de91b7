"""Decoding JSON that others wrote (DID documents, credential services' answers, JWT segments).

The stdlib decoder recurses on the C stack, so a document of 100,000 ``[`` overflows it when the
interpreter's recursion limit is high (web3 raises it to 100,000); it also accepts ``NaN``,
``Infinity`` and numbers no double holds. orjson refuses those, stops at 1,024 levels without
touching the C stack, and :func:`loads` bounds the depth further, iteratively.
"""

from __future__ import annotations

from typing import Any

import orjson

#: Deepest nesting accepted in a fetched document; DID documents and DCP answers stay below 10.
MAX_DEPTH = 64


class JsonRefused(ValueError):
    """Not JSON identity accepts; ``too_deep`` tells nesting apart from malformed text."""

    def __init__(self, reason: str, *, too_deep: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.too_deep = too_deep


def loads(raw: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The decoded document, or :class:`JsonRefused` saying why not."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):
            raise JsonRefused(_too_deep(max_depth), too_deep=True) from None
        raise JsonRefused(f"invalid JSON: {exc}") from None
    if depth_of(doc) > max_depth:
        raise JsonRefused(_too_deep(max_depth), too_deep=True)
    return doc


def depth_of(value: Any) -> int:
    """How many arrays and objects the deepest path crosses (0 for a scalar); iterative."""
    if type(value) is not dict and type(value) is not list:
        return 0
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in node.values() if type(node) is dict else node:
            if type(child) is dict or type(child) is list:
                stack.append((child, depth + 1))
    return deepest


def _too_deep(max_depth: int) -> str:
    return f"the JSON nests deeper than {max_depth} levels of arrays and objects"
