"""Running a temporal query: select entities, read their instances in the window, apply q,
geo-queries and the access scope on the state the history shows, then lastN and paging.

``q`` and geo-queries are evaluated on the entity as the selected history leaves it (the
latest instance of each attribute within the time window): "stations whose last NO2 reading
of the period was above 40", answered from one row per attribute rather than by scanning every
instance (a per-instance reading of q is not implemented). The access scope applies
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
    deleted_at: str | None = None  # the entity stands deleted since then


def _flat_types(tq: TemporalQuery) -> list[str] | None:
    expr = tq.types
    if isinstance(expr, Leaf):
        return [expr.name]
    if isinstance(expr, AnyOf) and all(isinstance(i, Leaf) for i in expr.items):
        return [i.name for i in expr.items if isinstance(i, Leaf)]
    return None


def snapshot(entity_id: str, types: list[str], rows: list[HistoryRow]) -> dict[str, Any]:
    """The entity as its history (oldest first) leaves it: last instance per datasetId, none
    where that was a deletion."""
    attrs: dict[str, dict[str | None, dict[str, Any]]] = {}
    for row in rows:
        by_dataset = attrs.setdefault(row.name, {})
        if "deletedAt" in row.instance:
            by_dataset.pop(row.dataset_id, None)
        else:
            by_dataset[row.dataset_id] = row.instance
    doc: dict[str, Any] = {"id": entity_id, "type": types}
    for name, by_dataset in attrs.items():
        if by_dataset:
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
        """Entities are matched page by page in id order: on the latest state in the window
        (one row per attribute) when q, geo or an area must be checked, else on the mere
        existence of history; only the entities of the requested page have their instances
        read, and lastN is applied by the database."""
        shown = self._shown_names(tq, scope)
        needs_state = tq.q is not None or tq.geo is not None or scope.area is not None
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
            batch = await self.store.candidates(tq.ids, flat, after, PAGE, descending=tq.descending)
            if not batch:
                break
            after = batch[-1][0]
            deleted = {eid: at for eid, _, at in batch if at is not None}
            kept = [
                (eid, types) for eid, types, _ in batch if self._selected(tq, scope, eid, types)
            ]
            ids = [eid for eid, _ in kept]
            if needs_state:
                latest = await self.store.instances(ids, None, tq.window, last_n=1)
                states: dict[str, list[HistoryRow]] = {}
                for row in latest:
                    states.setdefault(row.entity_id, []).append(row)
                shown_has = {r.entity_id for r in latest if shown is None or r.name in shown}
                hits = {
                    eid
                    for eid, types in kept
                    if eid in shown_has
                    and self._state_ok(
                        tq, scope, q_pred, area, snapshot(eid, types, states.get(eid, []))
                    )
                }
            else:
                hits = await self.store.with_history(ids, shown, tq.window)
            chosen: list[tuple[str, list[str]]] = []
            for eid, types in kept:
                if eid not in hits:
                    continue
                if tq.offset <= matched < want:
                    chosen.append((eid, types))
                matched += 1
            if chosen:
                rows = await self.store.instances(
                    [e for e, _ in chosen], shown, tq.window, last_n=tq.last_n
                )
                by_entity: dict[str, list[HistoryRow]] = {}
                for row in rows:
                    if tq.datasets is None or row.dataset_id in tq.datasets:
                        by_entity.setdefault(row.entity_id, []).append(row)
                page += [
                    TemporalEntity(e, t, by_entity.get(e, []), deleted.get(e))
                    for e, t in chosen
                    if tq.datasets is None or e in by_entity  # nothing of those datasets: out
                ]
            if len(batch) < PAGE or (matched >= want and not tq.count):
                break
        return page, (matched if tq.count else None)

    @staticmethod
    def _selected(tq: TemporalQuery, scope: AccessScope, eid: str, types: list[str]) -> bool:
        if tq.id_pattern is not None and not tq.id_pattern.search(eid):
            return False
        if tq.types is not None and not matches_types(tq.types, set(types)):
            return False
        return scope.entity_types is None or bool(set(types) & scope.entity_types)

    def _state_ok(
        self,
        tq: TemporalQuery,
        scope: AccessScope,
        q_pred: Callable[[dict[str, Any]], bool] | None,
        area: Any,
        state: dict[str, Any],
    ) -> bool:
        if q_pred is not None and not q_pred(state):
            return False
        if tq.geo is not None and not self._geo_ok(tq, state, scope):
            return False
        return area is None or _in_area(state, area)

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
