"""Linked entity retrieval (§4.5.23, ``join`` and ``joinLevel``): the entities a Relationship
(or ListRelationship) points at, read with the same access scope and rendered in the request's
representation, either embedded in the Relationship (``inline``: an ``entity`` member, or the
entity itself in keyValues) or appended to the answer after the matched entities (``flat``),
following relationships up to ``joinLevel`` hops (1 by default). A target that does not exist
or is hidden by the scope is simply not joined.

Not done here: pick / omit on members of linked entities (validated by the projection parser).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from connector.ngsild.api.negotiation import Negotiated, with_context
from connector.ngsild.errors import bad_data
from connector.ngsild.model import Doc
from connector.ngsild.pep import AccessScope
from connector.ngsild.render import View, render_entity
from connector.ngsild.service import Broker, in_area, visible
from connector.ngsild.store import QueryPlan

JOINS = ("flat", "inline", "@none")
MAX_LEVEL = 5
MAX_LINKED = 1000


def join_of(params: Mapping[str, str]) -> tuple[str | None, int]:
    """(join, joinLevel) of a request; join None when no linked entity is wanted."""
    join = params.get("join")
    raw_level = params.get("joinLevel")
    if join is not None and join not in JOINS:
        raise bad_data(f"join must be one of {', '.join(JOINS)}, got {join!r}")
    level = 1
    if raw_level is not None:
        if not raw_level.isdigit() or not 1 <= int(raw_level) <= MAX_LEVEL:
            raise bad_data(f"joinLevel must be an integer from 1 to {MAX_LEVEL}")
        level = int(raw_level)
    return (None if join in (None, "@none") else join), level


def _targets(doc: Doc) -> list[str]:
    out: list[str] = []
    for name, instances in doc.items():
        if ":" not in name or not isinstance(instances, list):
            continue
        for inst in instances:
            if inst.get("type") == "Relationship":
                obj = inst.get("object")
                out += obj if isinstance(obj, list) else [obj]
            elif inst.get("type") == "ListRelationship":
                out += inst.get("objectList") or []
    return [t for t in out if isinstance(t, str)]


class Linker:
    """Reads the linked entities of one answer, level by level, each at most once."""

    def __init__(self, broker: Broker, scope: AccessScope) -> None:
        self.broker = broker
        self.scope = scope
        self.docs: dict[str, Doc] = {}

    async def load(self, roots: list[Doc], level: int) -> None:
        frontier = [t for d in roots for t in _targets(d)]
        for _ in range(level):
            wanted = sorted({t for t in frontier if t not in self.docs})[:MAX_LINKED]
            if not wanted:
                return
            plan = QueryPlan(
                ids=wanted,
                limit=len(wanted),
                allowed_types=self.scope.entity_types,
                allowed_attrs=self.scope.attributes,
            )
            found, _ = await self.broker.query(plan)
            new = []
            for doc in found:
                shown = visible(doc, self.scope)
                if shown is None or (
                    self.scope.area is not None and not in_area(shown, self.scope.area)
                ):
                    continue
                self.docs[shown["id"]] = shown
                new.append(shown)
            frontier = [t for d in new for t in _targets(d)]

    def flat(
        self,
        neg: Negotiated,
        view: View,
        roots: list[Doc],
        rendered: list[dict[str, Any]],
        level: int,
    ) -> list[Any]:
        """The linked entities to append after the roots, breadth first, without repeats;
        only relationships the roots' projection shows are followed."""
        seen = {d["id"] for d in roots}
        out: list[Any] = []
        frontier = [
            {k: v for k, v in doc.items() if ":" not in k or neg.tm.compact(k) in shown}
            for doc, shown in zip(roots, rendered, strict=True)
        ]
        plain = _linked_view(view)
        for _ in range(level):
            nxt = []
            for doc in frontier:
                for target in _targets(doc):
                    linked = self.docs.get(target)
                    if linked is None or target in seen:
                        continue
                    seen.add(target)
                    nxt.append(linked)
                    out.append(with_context(neg, render_entity(linked, neg.tm, plain)))
            frontier = nxt
        return out

    def inline(
        self, neg: Negotiated, view: View, doc: Doc, rendered: dict[str, Any], level: int
    ) -> None:
        """Embed the linked entities into a rendered entity's relationships, in place."""
        if level < 1:
            return
        plain = _linked_view(view)
        for name, instances in doc.items():
            if ":" not in name or not isinstance(instances, list):
                continue
            short = neg.tm.compact(name)
            if short not in rendered:
                continue
            shown = rendered[short]
            shown_list = shown if isinstance(shown, list) else [shown]
            for i, inst in enumerate(instances[: len(shown_list)]):
                if inst.get("type") != "Relationship" or not isinstance(inst.get("object"), str):
                    continue
                linked = self.docs.get(inst["object"])
                if linked is None:
                    continue
                embedded = render_entity(linked, neg.tm, plain)
                self.inline(neg, view, linked, embedded, level - 1)
                if view.fmt == "keyValues":
                    shown_list[i] = embedded
                elif isinstance(shown_list[i], dict):
                    shown_list[i]["entity"] = embedded
            rendered[short] = shown_list if isinstance(shown, list) else shown_list[0]


def _linked_view(view: View) -> View:
    """Linked entities are shown whole, in the answer's representation."""
    return replace(view, attrs=None, pick=None, omit=frozenset(), datasets=None)
