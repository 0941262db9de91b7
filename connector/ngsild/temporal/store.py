"""History rows in SQL: writing them from change events or temporal POSTs, and reading the
instances of a set of entities within a time window.

Time properties are stored as normalized UTC text (see :mod:`.times`), so ``before``/``after``/
``between`` are plain indexed string comparisons on both engines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from connector.ngsild.events import ChangeEvent
from connector.ngsild.jsontext import InstanceTexts, compact, transaction_texts
from connector.ngsild.model import CONTENT_KEY, NULL, now_iso
from connector.ngsild.store import SMALL_IN, bulk_insert, id_params
from connector.ngsild.temporal.ids import new_instance_id
from connector.ngsild.temporal.tables import temporal_attrs, temporal_entities, temporal_types
from connector.ngsild.temporal.times import stored_time, utc_text

Doc = dict[str, Any]
TE = temporal_entities.c
TT = temporal_types.c
TA = temporal_attrs.c
TIME_COLUMNS = {
    "observedAt": TA.observed_at,
    "modifiedAt": TA.modified_at,
    "createdAt": TA.created_at,
}


@dataclass(frozen=True)
class Window:
    """timerel/timeAt/endTimeAt on one time property (already normalized UTC text)."""

    timeproperty: str = "observedAt"
    timerel: str | None = None
    time_at: str | None = None
    end_time_at: str | None = None


@dataclass(frozen=True)
class HistoryRow:
    instance_id: str
    entity_id: str
    name: str
    dataset_id: str | None
    instance: Doc
    observed_at: str | None
    modified_at: str
    created_at: str

    def time(self, prop: str) -> str:
        if prop == "observedAt":
            return self.observed_at or self.modified_at
        return self.created_at if prop == "createdAt" else self.modified_at


ATTR_COLUMNS = tuple(temporal_attrs.columns.keys())
Row = tuple[Any, ...]  # a history row in ATTR_COLUMNS order


def _row(
    entity_id: str, name: str, inst: Doc, fallback_time: str, texts: InstanceTexts | None = None
) -> Row:
    observed = inst.get("observedAt")
    return (
        new_instance_id(),
        entity_id,
        name,
        inst.get("datasetId"),
        inst.get("type", "Property"),
        texts.instance(inst) if texts is not None else compact(inst),
        stored_time(observed, "observedAt") if observed else None,
        stored_time(inst.get("modifiedAt") or fallback_time, "modifiedAt"),
        stored_time(inst.get("createdAt") or fallback_time, "createdAt"),
    )


def row_for(entity_id: str, name: str, inst: Doc, fallback_time: str) -> dict[str, Any]:
    """The table row of one attribute instance (its stored form)."""
    return dict(zip(ATTR_COLUMNS, _row(entity_id, name, inst, fallback_time), strict=True))


def _deletion_row(entity_id: str, name: str, inst: Doc, deleted_at: str) -> Row:
    """The row recording that an attribute instance (one datasetId) was deleted.

    NGSI-LD v1.8 shows a deletion in the temporal representation as an instance of the same
    attribute type whose content is the NGSI-LD Null (``urn:ngsi-ld:null``) and which carries
    ``deletedAt``; its time properties all read as the deletion time, so windows and lastN see
    it where it happened."""
    kind = inst.get("type", "Property")
    key = CONTENT_KEY.get(kind, "value")
    content: Any = {"languageMap": {"@none": NULL}}.get(key, NULL)
    if key in ("valueList", "objectList"):
        content = [NULL]
    marker: Doc = {"type": kind, key: content, "deletedAt": deleted_at}
    if inst.get("datasetId") is not None:
        marker["datasetId"] = inst["datasetId"]
    row = _row(entity_id, name, marker, deleted_at)
    return (*row[:6], deleted_at, *row[7:])  # observed at the deletion


def deletion_time(event: ChangeEvent) -> str:
    """When the change happened: the entity's new modifiedAt, or the event's time on delete."""
    if event.after is not None and event.after.get("modifiedAt"):
        return stored_time(event.after["modifiedAt"], "modifiedAt")
    return utc_text(event.at)


def rows_for_event(event: ChangeEvent, texts: InstanceTexts | None = None) -> list[Row]:
    """One row per attribute instance the change created or altered, and one deletion row per
    instance it removed (the history itself is kept)."""
    before = event.before or {}
    after = event.after or {}
    eid = event.entity_id
    when: str = after.get("modifiedAt") or after.get("createdAt") or now_iso()
    rows: list[Row] = []
    for name in sorted(event.changed_attributes):
        new_instances = after.get(name) or ()
        if name not in before:  # a new attribute (e.g. every one of a created entity)
            rows.extend(_row(eid, name, inst, when, texts) for inst in new_instances)
            continue
        old = {i.get("datasetId"): i for i in before[name] or ()}
        new = {i.get("datasetId"): i for i in new_instances}
        for dataset_id, inst in new.items():
            if old.get(dataset_id) != inst:
                rows.append(_row(eid, name, inst, when, texts))
        for dataset_id, inst in old.items():
            if dataset_id not in new:
                rows.append(_deletion_row(eid, name, inst, deletion_time(event)))
    return rows


@lru_cache(maxsize=SMALL_IN)
def _types_by_ids(n: int) -> Any:
    """A fixed statement per number of ids (see :func:`connector.ngsild.store.id_params`)."""
    return select(TE.entity_id, TE.types).where(
        TE.entity_id.in_([bindparam(f"id{i}") for i in range(n)])
    )


_UPDATE_ENTITY = (
    update(temporal_entities)
    .where(TE.entity_id == bindparam("b_id"))
    .values(
        types=bindparam("b_types"),
        modified_at=bindparam("b_modified"),
        deleted_at=bindparam("b_deleted"),
    )
)
_INSERT_ATTRS = insert(temporal_attrs)


class TemporalStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # built once: recording runs inside every broker write transaction
        self._insert_entities = self._dialect.insert(temporal_entities).on_conflict_do_nothing(
            index_elements=["entity_id"]
        )
        self._insert_types = self._dialect.insert(temporal_types).on_conflict_do_nothing(
            index_elements=["type", "entity_id"]
        )

    async def _upsert_entity(
        self, conn: AsyncConnection, entity_id: str, types: Sequence[str], at: str
    ) -> bool:
        """Create or touch the entity row; True when it was new."""
        existing = (await conn.execute(select(TE.types).where(TE.entity_id == entity_id))).first()
        if existing is None:
            stmt = self._dialect.insert(temporal_entities).values(
                entity_id=entity_id, types=json.dumps(list(types)), created_at=at, modified_at=at
            )
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=["entity_id"]))
            merged = list(types)
        else:
            merged = list(dict.fromkeys([*json.loads(existing[0]), *types]))
            await conn.execute(
                update(temporal_entities)
                .where(TE.entity_id == entity_id)
                .values(types=json.dumps(merged), modified_at=at)
            )
        for t in merged:
            stmt = self._dialect.insert(temporal_types).values(type=t, entity_id=entity_id)
            await conn.execute(stmt.on_conflict_do_nothing(index_elements=["type", "entity_id"]))
        return existing is None

    async def append(
        self, entity_id: str, types: Sequence[str], rows: list[dict[str, Any]], at: str
    ) -> bool:
        """Store instances of one entity; True when the entity had no history before."""
        async with self.engine.begin() as conn:
            created = await self._upsert_entity(conn, entity_id, types, at)
            if rows:
                await conn.execute(insert(temporal_attrs), rows)
        return created

    async def record_many(self, events: Sequence[ChangeEvent]) -> None:
        """Like :meth:`record` for every event, set-based in one transaction of its own."""
        async with self.engine.begin() as conn:
            await conn.run_sync(self.record_in, events)

    def record_in(self, conn: Connection, events: Sequence[ChangeEvent]) -> None:
        """Record events set-based on a synchronous connection: a handful of statements per
        group-committed broker write, inside the broker's own transaction when it offers one.
        A deleted entity keeps its history; its entity row then carries ``deleted_at`` (until
        an entity with the same id is created again)."""
        rows: list[Row] = []
        # entity id -> (types, last change, deleted at)
        touched: dict[str, tuple[list[str], str, str | None]] = {}
        texts = transaction_texts(conn)
        for event in events:
            event_rows = rows_for_event(event, texts)
            if not event_rows and event.after is not None:
                continue
            rows += event_rows
            at = deletion_time(event)
            deleted = at if event.after is None else None
            known = touched.get(event.entity_id, ([], at, None))[0]
            types = list(dict.fromkeys([*known, *event.entity_types]))
            touched[event.entity_id] = (types, at, deleted)
        if not touched:
            return
        ids = sorted(touched)
        existing: dict[str, list[str]] = {}
        for i in range(0, len(ids), SMALL_IN):  # prebuilt statements, as the broker's load
            chunk = ids[i : i + SMALL_IN]
            found = conn.execute(_types_by_ids(len(chunk)), id_params(chunk))
            for eid, types in found:
                existing[eid] = json.loads(types)
        new_rows: list[Row] = []
        updates = []
        for eid, (types, at, deleted) in touched.items():
            if eid in existing:
                merged = list(dict.fromkeys([*existing[eid], *types]))
                updates.append(
                    {
                        "b_id": eid,
                        "b_types": compact(merged),
                        "b_modified": at,
                        "b_deleted": deleted,
                    }
                )
                touched[eid] = (merged, at, deleted)
            else:
                new_rows.append((eid, compact(types), at, at, deleted))
        if updates:
            conn.execute(_UPDATE_ENTITY, updates)
        if new_rows:
            bulk_insert(conn, self._insert_entities, new_rows)
        type_rows = [(t, eid) for eid, (ts, _, _) in touched.items() for t in ts]
        bulk_insert(conn, self._insert_types, type_rows)
        if rows:
            bulk_insert(conn, _INSERT_ATTRS, rows)

    async def record(self, event: ChangeEvent) -> None:
        await self.record_many([event])

    async def types_of(self, entity_id: str) -> list[str] | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(TE.types).where(TE.entity_id == entity_id))).first()
        return json.loads(row[0]) if row else None

    async def candidates(
        self,
        ids: Sequence[str] | None,
        flat_types: Sequence[str] | None,
        after_id: str | None,
        limit: int,
        *,
        descending: bool = False,
    ) -> list[tuple[str, list[str], str | None]]:
        """A page of (entity id, types, deleted at) in id order (``after_id`` is the last id of
        the previous page in that order), narrowed by ids and a flat type list."""
        stmt = select(TE.entity_id, TE.types, TE.deleted_at)
        if ids is not None:
            stmt = stmt.where(TE.entity_id.in_(list(ids)))
        if flat_types is not None:
            stmt = stmt.where(
                TE.entity_id.in_(select(TT.entity_id).where(TT.type.in_(list(flat_types))))
            )
        if after_id is not None:
            stmt = stmt.where(TE.entity_id < after_id if descending else TE.entity_id > after_id)
        order = TE.entity_id.desc() if descending else TE.entity_id
        stmt = stmt.order_by(order).limit(limit)
        async with self.engine.connect() as conn:
            return [(r[0], json.loads(r[1]), r[2]) for r in await conn.execute(stmt)]

    def _window_conditions(
        self, entity_ids: Sequence[str], names: frozenset[str] | None, window: Window
    ) -> list[ColumnElement[bool]]:
        column = TIME_COLUMNS[window.timeproperty]
        conds: list[ColumnElement[bool]] = [TA.entity_id.in_(list(entity_ids))]
        if names is not None:
            conds.append(TA.name.in_(sorted(names)))
        if window.timerel == "before":
            conds.append(column < window.time_at)
        elif window.timerel == "after":
            conds.append(column >= window.time_at)  # §4.11: an inclusive bound
        elif window.timerel == "between":
            conds.append(and_(column >= window.time_at, column < window.end_time_at))
        return conds

    async def with_history(
        self, entity_ids: Sequence[str], names: frozenset[str] | None, window: Window
    ) -> set[str]:
        """Which of these entities have at least one instance in the window (no rows read)."""
        if not entity_ids:
            return set()
        stmt = select(TA.entity_id).where(*self._window_conditions(entity_ids, names, window))
        async with self.engine.connect() as conn:
            return {r[0] for r in await conn.execute(stmt.distinct())}

    async def instances(
        self,
        entity_ids: Sequence[str],
        names: frozenset[str] | None,
        window: Window,
        last_n: int | None = None,
    ) -> list[HistoryRow]:
        """The instances of these entities (and attributes) in the window, oldest first; with
        ``last_n`` only the newest n per attribute and datasetId, chosen by the database (a
        window function), so a long history is never read to keep a few rows."""
        if not entity_ids:
            return []
        column = TIME_COLUMNS[window.timeproperty]
        order = func.coalesce(column, TA.modified_at)
        columns = (
            TA.instance_id,
            TA.entity_id,
            TA.name,
            TA.dataset_id,
            TA.instance,
            TA.observed_at,
            TA.modified_at,
            TA.created_at,
        )
        conds = self._window_conditions(entity_ids, names, window)
        if last_n is None:
            stmt = select(*columns, order.label("t")).where(*conds)
        else:
            rank = (
                func.row_number()
                .over(
                    partition_by=(TA.entity_id, TA.name, TA.dataset_id),
                    order_by=(order.desc(), TA.instance_id.desc()),
                )
                .label("rn")
            )
            ranked = select(*columns, order.label("t"), rank).where(*conds).subquery()
            stmt = select(*[ranked.c[c.name] for c in columns], ranked.c.t).where(
                ranked.c.rn <= last_n
            )
        sub = stmt.subquery()
        final = select(*[sub.c[c.name] for c in columns]).order_by(
            sub.c.entity_id, sub.c.name, sub.c.t, sub.c.instance_id
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(final)).all()
        return [
            HistoryRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7]) for r in rows
        ]

    async def delete(self, entity_id: str) -> bool:
        async with self.engine.begin() as conn:
            await conn.execute(delete(temporal_attrs).where(TA.entity_id == entity_id))
            await conn.execute(delete(temporal_types).where(TT.entity_id == entity_id))
            result = await conn.execute(delete(temporal_entities).where(TE.entity_id == entity_id))
        return bool(result.rowcount)

    async def delete_attribute(
        self, entity_id: str, name: str, dataset_id: str | None, delete_all: bool
    ) -> int:
        """Remove an attribute's instances (§6.21.3.2): of the default instance (no datasetId),
        of one datasetId, or all of them; how many rows went."""
        conds = [TA.entity_id == entity_id, TA.name == name]
        if not delete_all:
            conds.append(
                TA.dataset_id.is_(None) if dataset_id is None else TA.dataset_id == dataset_id
            )
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(temporal_attrs).where(*conds))
        return int(result.rowcount or 0)

    async def instance(self, entity_id: str, name: str, instance_id: str) -> Doc | None:
        """One stored instance of an attribute's history, None if there is no such instance."""
        stmt = select(TA.instance).where(
            TA.entity_id == entity_id, TA.name == name, TA.instance_id == instance_id
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return json.loads(row[0]) if row else None

    async def replace_instance(self, entity_id: str, name: str, instance_id: str, row: Doc) -> bool:
        """Rewrite one instance in place (§6.22.3.1): same instance id, new content and times."""
        values = {k: v for k, v in row.items() if k not in ("instance_id", "entity_id", "name")}
        stmt = (
            update(temporal_attrs)
            .where(TA.entity_id == entity_id, TA.name == name, TA.instance_id == instance_id)
            .values(**values)
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)

    async def delete_instance(self, entity_id: str, name: str, instance_id: str) -> bool:
        stmt = delete(temporal_attrs).where(
            TA.entity_id == entity_id, TA.name == name, TA.instance_id == instance_id
        )
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount)
