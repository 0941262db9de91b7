"""Running a temporal query: select entities, read their instances in the window, apply q,
geo-queries and the access scope on the state the history shows, then lastN and paging.

``q`` and geo-queries are evaluated on the entity as the selected history leaves it (the
latest instance of each attribute within the time window), which answers "which stations had
NO2 above 40 in this period?" without scanning instance by instance. The access scope applies
exactly as for current entities: hidden types are skipped, hidden attributes never shown nor
usable in q, and entities outside the permitted area are left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import shape

from connector.ngsild.context import TermMap
from connector.ngsild.pep import AccessScope
from connector.ngsild.query.geo import shape_of
from connector.ngsild.query.q import compile_q
from connector.ngsild.query.selectors import AnyOf, Leaf, matches_types
from connector.ngsild.render import LOCATION
from connector.ngsild.temporal.params import TemporalQuery
from connector.ngsild.temporal.store import HistoryRow, TemporalStore

PAGE = 200


@dataclass
class TemporalEntity:
    entity_id: str
    types: list[str]
    rows: list[HistoryRow] = field(default_factory=list)


def _flat_types(tq: TemporalQuery) -> list[str] | None:
    expr = tq.types
    if isinstance(expr, Leaf):
        return [expr.name]
    if isinstance(expr, AnyOf) and all(isinstance(i, Leaf) for i in expr.items):
        return [i.name for i in expr.items if isinstance(i, Leaf)]
    return None


def snapshot(entity_id: str, types: list[str], rows: list[HistoryRow]) -> dict[str, Any]:
    """The entity as its history (oldest first) leaves it: last instance per datasetId."""
    attrs: dict[str, dict[str | None, dict[str, Any]]] = {}
    for row in rows:
        attrs.setdefault(row.name, {})[row.dataset_id] = row.instance
    doc: dict[str, Any] = {"id": entity_id, "type": types}
    for name, by_dataset in attrs.items():
        doc[name] = list(by_dataset.values())
    return doc


def _in_area(doc: dict[str, Any], area: Any) -> bool:
    for inst in doc.get(LOCATION) or []:
        value = inst.get("value")
        if isinstance(value, dict):
            try:
                if shape_of(value).intersects(area):
                    return True
            except (ValueError, TypeError, KeyError):
                continue
    return False


def last_n(rows: list[HistoryRow], n: int | None, prop: str) -> list[HistoryRow]:
    if n is None:
        return rows
    groups: dict[tuple[str, str | None], list[HistoryRow]] = {}
    for row in rows:
        groups.setdefault((row.name, row.dataset_id), []).append(row)
    out: list[HistoryRow] = []
    for group in groups.values():
        out += sorted(group, key=lambda r: r.time(prop))[-n:]
    return out


class TemporalQueryRunner:
    def __init__(self, store: TemporalStore) -> None:
        self.store = store

    def _shown_names(self, tq: TemporalQuery, scope: AccessScope) -> frozenset[str] | None:
        names = tq.attrs
        if scope.attributes is not None:
            names = scope.attributes if names is None else names & scope.attributes
        return names

    async def run(
        self, tq: TemporalQuery, scope: AccessScope, tm: TermMap
    ) -> tuple[list[TemporalEntity], int | None]:
        shown = self._shown_names(tq, scope)
        needs_state = tq.q is not None or tq.geo is not None or scope.area is not None
        fetch_names = None if needs_state else shown
        q_pred: Callable[[dict[str, Any]], bool] | None = (
            compile_q(tq.q, tm.expand, scope.attributes) if tq.q is not None else None
        )
        area = shape(scope.area) if scope.area is not None else None
        flat = _flat_types(tq)
        want = tq.offset + tq.limit
        page: list[TemporalEntity] = []
        matched = 0
        after: str | None = None
        while True:
            batch = await self.store.candidates(tq.ids, flat, after, PAGE)
            if not batch:
                break
            after = batch[-1][0]
            kept = []
            for eid, types in batch:
                if tq.id_pattern is not None and tq.id_pattern.search(eid) is None:
                    continue
                if tq.types is not None and not matches_types(tq.types, set(types)):
                    continue
                if scope.entity_types is not None and not set(types) & scope.entity_types:
                    continue
                kept.append((eid, types))
            rows = await self.store.instances([e for e, _ in kept], fetch_names, tq.window)
            by_entity: dict[str, list[HistoryRow]] = {}
            for row in rows:
                by_entity.setdefault(row.entity_id, []).append(row)
            for eid, types in kept:
                entity_rows = by_entity.get(eid, [])
                if needs_state:
                    state = snapshot(eid, types, entity_rows)
                    if q_pred is not None and not q_pred(state):
                        continue
                    if tq.geo is not None and not self._geo_ok(tq, state, scope):
                        continue
                    if area is not None and not _in_area(state, area):
                        continue
                    if shown is not None:
                        entity_rows = [r for r in entity_rows if r.name in shown]
                if not entity_rows:
                    continue
                if tq.offset <= matched < want:
                    page.append(
                        TemporalEntity(
                            eid, types, last_n(entity_rows, tq.last_n, tq.window.timeproperty)
                        )
                    )
                matched += 1
            if len(batch) < PAGE or (matched >= want and not tq.count):
                break
        return page, (matched if tq.count else None)

    @staticmethod
    def _geo_ok(tq: TemporalQuery, state: dict[str, Any], scope: AccessScope) -> bool:
        assert tq.geo is not None
        prop = tq.geo.geoproperty
        if scope.attributes is not None and prop not in scope.attributes:
            return False
        return any(
            isinstance(i.get("value"), dict) and tq.geo.matches(i["value"])
            for i in state.get(prop) or []
        )
