"""orderBy (§4.23): a comma-separated list of members, each ``path[;asc|;desc]``, where a path
is ``id``, ``type``, a system member (``createdAt``, ``modifiedAt``) or an attribute, optionally
followed by sub-attributes or metadata (``name.subProperty``, ``name.createdAt``).

Sorting happens on the matched entities in memory: the broker's store orders by id only, so an
ordered query reads at most :data:`MAX_ORDERED` matches (more is TooManyResults, narrow the
query). An entity lacking the member sorts after those having it, whatever the direction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connector.ngsild.errors import bad_data
from connector.ngsild.query.q import META_PATHS, resolve_path

MAX_ORDERED = 10_000
_KEYS = re.compile(r"(\[[^\[\]]+\])+")
_ENTITY_MEMBERS = ("id", "type", "createdAt", "modifiedAt")


@dataclass(frozen=True)
class OrderItem:
    member: str  # an entity member of _ENTITY_MEMBERS, or an expanded attribute name
    subs: tuple[str, ...]
    descending: bool
    keys: tuple[str, ...] = ()  # [key] subitems of a compound value (§4.23.3)


def parse_order_by(text: str, expand: Callable[[str], str]) -> list[OrderItem]:
    items: list[OrderItem] = []
    for raw in text.split(","):
        path, _, direction = raw.strip().partition(";")
        if direction not in ("", "asc", "desc"):
            raise bad_data(f"orderBy {raw!r}: the direction is asc or desc")
        path, bracket, rest = path.partition("[")
        keys: tuple[str, ...] = ()
        if bracket:
            found = _KEYS.fullmatch("[" + rest)
            if found is None:
                raise bad_data(f"orderBy {raw!r}: a subitem is [name]")
            keys = tuple(re.findall(r"\[([^\[\]]+)\]", "[" + rest))
        names = path.split(".")
        if not path or any(not n or any(c.isspace() or c in "\"'[]{}" for c in n) for n in names):
            raise bad_data(f"orderBy {raw!r} is not a member path")
        head, subs = names[0], tuple(names[1:])
        if head in _ENTITY_MEMBERS and not subs and not keys:
            items.append(OrderItem(head, (), direction == "desc"))
            continue
        expanded = tuple(s if s in META_PATHS else expand(s) for s in subs)
        items.append(OrderItem(expand(head), expanded, direction == "desc", keys))
    return items


def _key(value: Any) -> tuple[int, Any]:
    """Values of different JSON types compare by type first (numbers, text, booleans, rest)."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return (3, json.dumps(value, sort_keys=True))


def _value(doc: dict[str, Any], item: OrderItem) -> tuple[int, Any] | None:
    if item.member in _ENTITY_MEMBERS and not item.subs:
        value = doc.get(item.member)
        if isinstance(value, list):
            value = value[0] if value else None
        return None if value is None else _key(value)
    found = resolve_path(doc, item.member, item.subs, item.keys)
    if not found:
        return None
    keys = [_key(v) for v in found if v is not None]
    if not keys:
        return None
    return max(keys) if item.descending else min(keys)


def sort_docs(docs: list[dict[str, Any]], items: list[OrderItem]) -> list[dict[str, Any]]:
    """Stable sorts from the last item to the first: the first item decides, later ones break
    its ties, and the store's id order breaks the rest."""
    out = list(docs)
    for item in reversed(items):
        keyed = [(_value(d, item), d) for d in out]
        present = [(k, d) for k, d in keyed if k is not None]
        present.sort(key=lambda kd: kd[0], reverse=item.descending)
        out = [d for _, d in present] + [d for k, d in keyed if k is None]
    return out
