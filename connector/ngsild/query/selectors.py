"""Entity type expressions (``type=A,B`` / ``(A;B)|C``) and scope queries (``scopeQ``).

Both use ``,`` or ``|`` for OR, ``;`` for AND (binding tighter) and parentheses; they differ
in their leaves: a type name (expanded with the context) or a scope pattern (``/a/+/c``,
``/a/#``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connector.ngsild.errors import bad_data

_TYPE_NAME = re.compile(r"^[^\s,;|()\"'<>]+$")
_SCOPE = re.compile(r"^/(#|[^/#+\s,;|()]+|\+)(/(#|[^/#+\s,;|()]+|\+))*$")


@dataclass(frozen=True)
class Leaf:
    name: str


@dataclass(frozen=True)
class AllOf:
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Expr, ...]


Expr = Leaf | AllOf | AnyOf


class _P:
    def __init__(self, text: str, what: str, leaf: re.Pattern[str]) -> None:
        self.text = text
        self.pos = 0
        self.what = what
        self.leaf = leaf
        self.depth = 0

    def fail(self, why: str) -> Exception:
        return bad_data(f"invalid {self.what} at position {self.pos}: {why} (in {self.text!r})")

    def any_of(self) -> Expr:
        items = [self.all_of()]
        while self.pos < len(self.text) and self.text[self.pos] in ",|":
            self.pos += 1
            items.append(self.all_of())
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def all_of(self) -> Expr:
        items = [self.atom()]
        while self.pos < len(self.text) and self.text[self.pos] == ";":
            self.pos += 1
            items.append(self.atom())
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def atom(self) -> Expr:
        if self.text.startswith("(", self.pos):
            self.depth += 1
            if self.depth > 32:
                raise self.fail("too deeply nested")
            self.pos += 1
            inner = self.any_of()
            if not self.text.startswith(")", self.pos):
                raise self.fail("')' expected")
            self.pos += 1
            self.depth -= 1
            return inner
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",|;()":
            self.pos += 1
        name = self.text[start : self.pos].strip()
        if not name or not self.leaf.match(name):
            raise self.fail(f"{name!r} is not a valid name")
        return Leaf(name)


def _parse(text: str, what: str, leaf: re.Pattern[str]) -> Expr:
    if len(text) > 4096:
        raise bad_data(f"{what} is too long")
    parser = _P(text, what, leaf)
    expr = parser.any_of()
    if parser.pos != len(text):
        raise parser.fail(f"unexpected {text[parser.pos]!r}")
    return expr


def parse_types(text: str) -> Expr:
    return _parse(text, "type expression", _TYPE_NAME)


def parse_scope_q(text: str) -> Expr:
    return _parse(text, "scopeQ", _SCOPE)


def leaves(expr: Expr) -> set[str]:
    if isinstance(expr, Leaf):
        return {expr.name}
    out: set[str] = set()
    for item in expr.items:
        out |= leaves(item)
    return out


def is_flat_any(expr: Expr) -> bool:
    """True for ``A`` or ``A,B,C``: the common case the store answers with one IN list."""
    return isinstance(expr, Leaf) or (
        isinstance(expr, AnyOf) and all(isinstance(i, Leaf) for i in expr.items)
    )


def matches_types(expr: Expr, types: set[str]) -> bool:
    """``expr`` with expanded leaves against an entity's expanded types."""
    if isinstance(expr, Leaf):
        return expr.name in types
    if isinstance(expr, AllOf):
        return all(matches_types(i, types) for i in expr.items)
    return any(matches_types(i, types) for i in expr.items)


def expand_expr(expr: Expr, expand: object) -> Expr:
    assert callable(expand)
    if isinstance(expr, Leaf):
        return Leaf(expand(expr.name))
    items = tuple(expand_expr(i, expand) for i in expr.items)
    return AllOf(items) if isinstance(expr, AllOf) else AnyOf(items)


def _scope_matches(pattern: str, scope: str) -> bool:
    want = pattern.strip("/").split("/")
    have = scope.strip("/").split("/")
    for i, part in enumerate(want):
        if part == "#":
            return True
        if i >= len(have):
            return False
        if part != "+" and part != have[i]:
            return False
    return len(want) == len(have)


def matches_scope(expr: Expr, scopes: list[str]) -> bool:
    if isinstance(expr, Leaf):
        return any(_scope_matches(expr.name, s) for s in scopes)
    if isinstance(expr, AllOf):
        return all(matches_scope(i, scopes) for i in expr.items)
    return any(matches_scope(i, scopes) for i in expr.items)
