"""The NGSI-LD query language (§4.9): parse ``q`` into a tree, print it back, evaluate it.

Grammar (``;`` is AND and binds tighter than ``|``, OR)::

    query   = and *("|" and)
    and     = atom *(";" atom)
    atom    = "(" query ")" / "!" attr / attr [op value]
    attr    = name *("." name) *("[" key "]")          ; sub-attributes, then into compound values
    op      = "==" / "!=" / ">" / ">=" / "<" / "<=" / "~=" / "!~="
    value   = scalar / scalar ".." scalar / scalar 1*("," scalar)
    scalar  = number / "quoted" / true / false / date-time / URI

The tree is independent of any @context; :func:`compile_q` binds attribute names to IRIs and
yields a predicate on stored entities plus, in :mod:`connector.ngsild.query.sql`, the part of the
condition the database can check with its indexes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from connector.ngsild.errors import bad_data
from connector.ngsild.query.patterns import PatternError, compile_pattern

OPS = ("==", "!=", ">=", "<=", ">", "<", "~=", "!~=")
_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
_NAME_END = set("=!<>~;|()[")
MAX_Q = 8192
MAX_DEPTH = 64

Scalar = int | float | str | bool


@dataclass(frozen=True)
class Range:
    low: Scalar
    high: Scalar


@dataclass(frozen=True)
class Path:
    attr: str
    subs: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class Term:
    path: Path
    op: str | None = None  # None: the attribute exists; "!": it does not
    value: Scalar | Range | tuple[Scalar, ...] | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Term | And | Or


@dataclass
class _Parser:
    text: str
    pos: int = 0
    depth: int = field(default=0)

    def fail(self, why: str) -> Exception:
        return bad_data(f"invalid q at position {self.pos}: {why} (in {self.text!r})")

    def peek(self, n: int = 1) -> str:
        return self.text[self.pos : self.pos + n]

    def eof(self) -> bool:
        return self.pos >= len(self.text)

    def query(self) -> Node:
        items = [self.conj()]
        while self.peek() == "|":
            self.pos += 1
            items.append(self.conj())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def conj(self) -> Node:
        items = [self.atom()]
        while self.peek() == ";":
            self.pos += 1
            items.append(self.atom())
        return items[0] if len(items) == 1 else And(tuple(items))

    def atom(self) -> Node:
        if self.peek() == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail("too deeply nested")
            self.pos += 1
            node = self.query()
            if self.peek() != ")":
                raise self.fail("')' expected")
            self.pos += 1
            self.depth -= 1
            return node
        if self.peek() == "!" and self.peek(2) != "!=" and self.peek(3) != "!~=":
            self.pos += 1
            return Term(self.path(), "!")
        path = self.path()
        for op in OPS:
            if self.text.startswith(op, self.pos):
                self.pos += len(op)
                if op in ("~=", "!~="):
                    return Term(path, op, self.pattern())
                return Term(path, op, self.value(op))
        return Term(path)

    def path(self) -> Path:
        start = self.pos
        while not self.eof() and self.text[self.pos] not in _NAME_END:
            self.pos += 1
        raw = self.text[start : self.pos].strip()
        if not raw:
            raise self.fail("an attribute name expected")
        if "://" in raw or raw.startswith("urn:"):
            names = [raw]
        else:
            names = raw.split(".")
        if any(not n or any(c.isspace() or c in "\",'" for c in n) for n in names):
            raise self.fail(f"{raw!r} is not an attribute path")
        keys: list[str] = []
        while self.peek() == "[":
            end = self.text.find("]", self.pos)
            if end < 0:
                raise self.fail("']' expected")
            key = self.text[self.pos + 1 : end].strip()
            if not key or any(c in key for c in "[;|()"):
                raise self.fail("a member name expected inside [...]")
            keys.append(key)
            self.pos = end + 1
        return Path(names[0], tuple(names[1:]), tuple(keys))

    def scalar(self) -> Scalar:
        if self.peek() == '"':
            end = self.pos + 1
            while end < len(self.text):
                if self.text[end] == "\\":
                    end += 2
                    continue
                if self.text[end] == '"':
                    break
                end += 1
            else:
                raise self.fail("unterminated string")
            try:
                text: str = json.loads(self.text[self.pos : end + 1])
            except ValueError:
                raise self.fail("malformed string") from None
            self.pos = end + 1
            return text
        start = self.pos
        while not self.eof():
            c = self.text[self.pos]
            if c in ";|)," or self.text.startswith("..", self.pos):
                break
            if c in '("':
                raise self.fail(f"unexpected {c!r} in a value")
            self.pos += 1
        raw = self.text[start : self.pos]
        if not raw:
            raise self.fail("a value expected")
        if raw == "true":
            return True
        if raw == "false":
            return False
        if _NUMBER.match(raw):
            number = float(raw)
            return int(raw) if number.is_integer() and re.fullmatch(r"-?\d+", raw) else number
        if any(c.isspace() for c in raw) or raw[0] in "<>=!~":
            raise self.fail(f"{raw!r} is not a value (quote strings)")
        return raw

    def value(self, op: str) -> Scalar | Range | tuple[Scalar, ...]:
        first = self.scalar()
        if self.text.startswith("..", self.pos):
            self.pos += 2
            second = self.scalar()
            if op not in ("==", "!="):
                raise self.fail("a range needs == or !=")
            return Range(first, second)
        if self.peek() == ",":
            items = [first]
            while self.peek() == ",":
                self.pos += 1
                items.append(self.scalar())
            if op not in ("==", "!="):
                raise self.fail("a list of values needs == or !=")
            return tuple(items)
        return first

    def pattern(self) -> str:
        if self.peek() == '"':
            value = self.scalar()
            assert isinstance(value, str)
            text = value
        else:
            start = self.pos
            depth = 0
            while not self.eof():
                c = self.text[self.pos]
                if c == "\\":
                    self.pos += 2
                    continue
                if c == "(":
                    depth += 1
                elif c == ")":
                    if depth == 0:
                        break
                    depth -= 1
                elif c in ";|" and depth == 0:
                    break
                self.pos += 1
            text = self.text[start : self.pos]
        if not text:
            raise self.fail("a pattern expected")
        try:
            compile_pattern(text)
        except PatternError as exc:
            raise self.fail(f"bad regular expression: {exc.reason}") from None
        return text


def parse_q(text: str) -> Node:
    """Parse a q expression or raise BadRequestData saying where it is malformed."""
    if len(text) > MAX_Q:
        raise bad_data(f"q is longer than {MAX_Q} characters")
    parser = _Parser(text)
    node = parser.query()
    if not parser.eof():
        raise parser.fail(f"unexpected {parser.text[parser.pos]!r}")
    return node


def _scalar_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value)


def unparse(node: Node) -> str:
    """Canonical text of a tree; ``parse_q(unparse(t)) == t``."""
    if isinstance(node, Or):
        return "|".join(f"({unparse(i)})" if isinstance(i, Or) else unparse(i) for i in node.items)
    if isinstance(node, And):
        return ";".join(
            f"({unparse(i)})" if isinstance(i, Or | And) else unparse(i) for i in node.items
        )
    path = ".".join((node.path.attr, *node.path.subs)) + "".join(f"[{k}]" for k in node.path.keys)
    if node.op is None:
        return path
    if node.op == "!":
        return "!" + path
    value = node.value
    if node.op in ("~=", "!~="):
        return f"{path}{node.op}{json.dumps(value)}"
    if isinstance(value, Range):
        text = f"{_scalar_text(value.low)}..{_scalar_text(value.high)}"
    elif isinstance(value, tuple):
        text = ",".join(_scalar_text(v) for v in value)
    else:
        assert value is not None
        text = _scalar_text(value)
    return f"{path}{node.op}{text}"


def attribute_names(node: Node) -> set[str]:
    """The (short) top-level attribute names a tree refers to."""
    if isinstance(node, Term):
        return {node.path.attr}
    out: set[str] = set()
    for item in node.items:
        out |= attribute_names(item)
    return out


# --- evaluation on stored entities ---------------------------------------------------------

META_PATHS = {"observedAt", "unitCode", "datasetId", "createdAt", "modifiedAt"}
Predicate = Callable[[dict[str, Any]], bool]


def content_values(inst: dict[str, Any]) -> list[Any]:
    """What a q comparison looks at for one instance (lists compare element-wise)."""
    atype = inst.get("type")
    if atype == "Relationship":
        v = inst.get("object")
    elif atype == "LanguageProperty":
        lm = inst.get("languageMap") or {}
        out: list[Any] = []
        for item in lm.values():
            out.extend(item if isinstance(item, list) else [item])
        return out
    elif atype == "VocabProperty":
        v = inst.get("vocab")
    elif atype == "JsonProperty":
        v = inst.get("json")
    elif atype == "ListProperty":
        v = inst.get("valueList")
    elif atype == "ListRelationship":
        v = inst.get("objectList")
    else:
        v = inst.get("value")
    return v if isinstance(v, list) else [v]


def _resolve(
    doc: dict[str, Any], attr: str, subs: tuple[str, ...], keys: tuple[str, ...]
) -> list[Any] | None:
    instances = doc.get(attr)
    if not instances:
        return None
    found: list[Any] = []
    present = False
    for inst in instances:
        node: Any = inst
        ok = True
        for i, sub in enumerate(subs):
            if sub in META_PATHS and not isinstance(node.get(sub), dict):
                if sub not in node or i != len(subs) - 1:
                    ok = False
                    break
                node = {"type": "Property", "value": node[sub]}
                continue
            nxt = node.get(sub)
            if not isinstance(nxt, dict):
                ok = False
                break
            node = nxt
        if not ok:
            continue
        values = content_values(node)
        for key in keys:
            nxt_values: list[Any] = []
            for v in values:
                if isinstance(v, dict) and key in v:
                    got = v[key]
                    nxt_values.extend(got if isinstance(got, list) else [got])
            values = nxt_values
        if keys and not values:
            continue
        present = True
        found.extend(values)
    return found if present else None


def resolve_path(
    doc: dict[str, Any], attr: str, subs: tuple[str, ...], keys: tuple[str, ...] = ()
) -> list[Any] | None:
    """The values an (expanded) attribute path, maybe with [key] subitems, reaches in a stored
    entity, None if absent."""
    return _resolve(doc, attr, subs, keys)


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _cmp(a: Any, b: Any, op: str) -> bool:
    if (_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str)):
        if op == "==":
            return bool(a == b)
        if op == ">":
            return bool(a > b)
        if op == ">=":
            return bool(a >= b)
        if op == "<":
            return bool(a < b)
        return bool(a <= b)
    if isinstance(a, bool) and isinstance(b, bool) and op == "==":
        return a == b
    return False


def _equals(candidate: Any, value: Any, alt: dict[str, str]) -> bool:
    if isinstance(value, Range):
        return _cmp(candidate, value.low, ">=") and _cmp(candidate, value.high, "<=")
    if isinstance(value, tuple):
        return any(_equals(candidate, v, alt) for v in value)
    if isinstance(value, str) and isinstance(candidate, str) and value in alt:
        return candidate == value or candidate == alt[value]
    return _cmp(candidate, value, "==")


def compile_q(
    node: Node, expand: Callable[[str], str], allowed: frozenset[str] | None
) -> Predicate:
    """A predicate over stored entities; names are expanded with the request's context."""
    if isinstance(node, And):
        parts = [compile_q(i, expand, allowed) for i in node.items]
        return lambda doc: all(p(doc) for p in parts)
    if isinstance(node, Or):
        parts = [compile_q(i, expand, allowed) for i in node.items]
        return lambda doc: any(p(doc) for p in parts)
    attr = expand(node.path.attr)
    subs = tuple(s if s in META_PATHS else expand(s) for s in node.path.subs)
    keys = node.path.keys
    op = node.op
    value = node.value
    visible = allowed is None or attr in allowed
    alt = _alternatives(value, expand)
    rx = compile_pattern(value) if op in ("~=", "!~=") and isinstance(value, str) else None

    def predicate(doc: dict[str, Any]) -> bool:
        found = _resolve(doc, attr, subs, keys) if visible else None
        if op is None:
            return found is not None
        if op == "!":
            return found is None
        if found is None:
            return False
        if op == "==":
            return any(_equals(c, value, alt) for c in found)
        if op == "!=":
            return not any(_equals(c, value, alt) for c in found)
        if op in ("~=", "!~="):
            assert rx is not None  # the parser gives ~= a pattern, always a string
            hit = any(isinstance(c, str) and rx.search(c) for c in found)
            return hit if op == "~=" else not hit
        return any(_cmp(c, value, op) for c in found)

    return predicate


def _alternatives(value: Any, expand: Callable[[str], str]) -> dict[str, str]:
    """Vocab values are stored expanded: a term literal also matches its IRI."""
    items = value if isinstance(value, tuple) else (value,)
    out: dict[str, str] = {}
    for item in items:
        if isinstance(item, str) and item and ":" not in item and " " not in item:
            out[item] = expand(item)
    return out
