"""The broker's operations on stored entities, independent of HTTP.

Every write is a list of per-entity *changes* (pure functions: current stored form or None ->
new stored form or None, raising an NGSI-LD error to refuse). Writes arriving together are
group-committed: one transaction loads the affected entities, applies each request's changes
in arrival order, writes the results, lets in-transaction listeners (attribute history) add
their rows, and commits; only then are the change events published and the requests answered.
Each request keeps its own outcome; an entity that fails validation, a precondition or the
access scope is never written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry import shape
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from connector.http.problems import Problem
from connector.ngsild.errors import NgsiError, already_exists, bad_data, not_found
from connector.ngsild.events import ChangeEvent, ChangeFeed, event_for
from connector.ngsild.jsontext import begin_texts, end_texts
from connector.ngsild.model import (
    DROP_DATASETS,
    Doc,
    Instance,
    attribute_names,
    check_geometry,
    drop_datasets,
    merge_instances,
    now_iso,
    put_instances,
)
from connector.ngsild.pep import AccessScope
from connector.ngsild.query.geo import bbox_of, shape_of
from connector.ngsild.render import LOCATION
from connector.ngsild.store import QueryPlan, Store


def forbidden(detail: str) -> Problem:
    return Problem(403, "Forbidden", detail=detail)


def check_write(scope: AccessScope, doc: Doc | None, *, history: bool = False) -> None:
    """Refuse a write the scope does not cover (types, attributes, area).

    The broker checks both the stored form before the change and the one after it, so an
    entity outside the area can neither be changed nor be moved, created or upserted there
    from inside: the writer can only ever touch what its reads would show. Instances written
    to the ``history`` (temporal API) need not carry a location, but every location they
    carry must meet the area."""
    if not scope.may_write:
        raise forbidden("this access scope is read-only")
    if doc is None:
        return
    if scope.entity_types is not None and not set(doc.get("type", [])) <= scope.entity_types:
        raise forbidden(f"writing entities of these types is not permitted: {doc.get('type')}")
    if scope.attributes is not None:
        extra = set(attribute_names(doc)) - scope.attributes
        if extra:
            raise forbidden(f"writing these attributes is not permitted: {sorted(extra)}")
    if scope.area is None:
        return
    if history:
        outside = [i for i in doc.get(LOCATION) or [] if not in_area({LOCATION: [i]}, scope.area)]
        if outside:
            raise forbidden(
                f"the history of {doc.get('id')} would place it outside the permitted area"
            )
    elif not in_area(doc, scope.area):
        raise forbidden(
            f"the entity {doc.get('id')} would lie outside the permitted area: its "
            f"{LOCATION} must meet the access scope's area"
        )


def in_area(doc: Doc, area: dict[str, Any]) -> bool:
    """Whether one of the entity's locations meets the area (as reads decide visibility)."""
    region = shape(check_geometry(area, "access area"))
    for inst in doc.get(LOCATION) or []:
        value = inst.get("value")
        if isinstance(value, dict) and shape_of(value).intersects(region):
            return True
    return False


def visible(doc: Doc, scope: AccessScope) -> Doc | None:
    """The part of a stored entity a read scope shows (None: the entity is hidden)."""
    if scope.entity_types is not None and not set(doc.get("type", [])) & scope.entity_types:
        return None
    if scope.attributes is None:
        return doc
    return {k: v for k, v in doc.items() if ":" not in k or k in scope.attributes}


@dataclass
class Outcome:
    """What a (batch) write did: ids created/updated/deleted and per-entity errors."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[tuple[str, NgsiError | Problem]] = field(default_factory=list)
    # attribute-level outcome of append/update operations
    attrs_updated: list[str] = field(default_factory=list)
    attrs_not_updated: list[tuple[str, str]] = field(default_factory=list)


# a change: given the current stored form (or None), return the new one (None: delete)
Change = Callable[[Doc | None], Doc | None]


@dataclass
class _Job:
    changes: Sequence[tuple[str, Change]]
    scope: AccessScope
    future: asyncio.Future[Outcome]


class Broker:
    """Writes go through a group-committing queue: requests arriving while a transaction is
    being written are applied together in the next one (one fsync for many creates), each
    still with its own outcome and errors."""

    MAX_GROUP_CHANGES = 5000

    def __init__(self, store: Store, feed: ChangeFeed) -> None:
        self.store = store
        self.feed = feed
        self._pending: list[_Job] = []
        self._flusher: asyncio.Task[None] | None = None

    async def apply(self, changes: Sequence[tuple[str, Change]], scope: AccessScope) -> Outcome:
        """Apply per-entity changes atomically; errors are collected per entity."""
        job = _Job(changes, scope, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush(), name="ngsild-group-commit")
        return await job.future

    async def _flush(self) -> None:
        try:
            while self._pending:
                group: list[_Job] = []
                size = 0
                while self._pending and (not group or size < self.MAX_GROUP_CHANGES):
                    job = self._pending.pop(0)
                    group.append(job)
                    size += len(job.changes)
                try:
                    outcomes, events = await self._write(group)
                except BaseException as exc:
                    for job in group:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                # committed: listeners hear of it before any writer gets its answer
                await self.feed.publish_all(events)
                for job, outcome in zip(group, outcomes, strict=True):
                    if not job.future.done():
                        job.future.set_result(outcome)
        finally:
            self._flusher = None

    async def _write(self, group: list[_Job]) -> tuple[list[Outcome], list[ChangeEvent]]:
        try:
            return await self.store.transaction(self._write_sync, group)
        except IntegrityError:
            # another replica created one of these ids concurrently
            raise already_exists("an entity with one of these ids was created meanwhile") from None

    def _write_sync(
        self, conn: Connection, group: list[_Job]
    ) -> tuple[list[Outcome], list[ChangeEvent]]:
        """One transaction for a group of jobs (runs on the store's writer)."""
        begin_texts(conn)  # the store and the history listener encode each instance once
        try:
            return self._write_group(conn, group)
        finally:
            end_texts(conn)

    def _write_group(
        self, conn: Connection, group: list[_Job]
    ) -> tuple[list[Outcome], list[ChangeEvent]]:
        outcomes: list[Outcome] = []
        events: list[ChangeEvent] = []
        ids = sorted({eid for job in group for eid, _ in job.changes})
        current = self.store.load_for_update(conn, ids)
        original = set(current)
        final: dict[str, Doc | None] = {}
        for job in group:
            outcome = Outcome()
            outcomes.append(outcome)
            job_events: list[ChangeEvent] = []
            for eid, change in job.changes:
                before = current.get(eid)
                try:
                    if before is not None:
                        check_write(job.scope, before)
                    after = change(before)
                    if after is not None:
                        check_write(job.scope, after)
                except (NgsiError, Problem) as exc:
                    outcome.errors.append((eid, exc))
                    continue
                if before is None and after is None:
                    continue
                if after is None:
                    current.pop(eid, None)
                    outcome.deleted.append(eid)
                else:
                    current[eid] = after
                    (outcome.created if before is None else outcome.updated).append(eid)
                final[eid] = after
                job_events.append(event_for(before, after))
            # one event per entity and request, as if each request had its own transaction
            events.extend(_squash(job_events))
        deletes = [eid for eid, doc in final.items() if doc is None and eid in original]
        replaces = [doc for eid, doc in final.items() if doc is not None and eid in original]
        inserts = [doc for eid, doc in final.items() if doc is not None and eid not in original]
        self.store.delete(conn, deletes)
        self.store.replace(conn, replaces)
        self.store.insert(conn, inserts)
        if events:  # e.g. attribute history, committed atomically with the change
            self.feed.in_transaction(conn, events)
        return outcomes, events

    async def apply_one(self, entity_id: str, change: Change, scope: AccessScope) -> Outcome:
        outcome = await self.apply([(entity_id, change)], scope)
        if outcome.errors:
            raise outcome.errors[0][1]
        return outcome

    async def get(self, entity_id: str, scope: AccessScope) -> Doc:
        if scope.unrestricted:
            doc = await self.store.get(entity_id)
        else:  # the scope's types and area apply in the store query, as for any query
            plan = QueryPlan(
                ids=[entity_id],
                limit=1,
                allowed_types=scope.entity_types,
                allowed_attrs=scope.attributes,
            )
            if scope.area is not None:
                area = check_geometry(scope.area, "access area")
                plan.area = shape(area)
                plan.area_box = bbox_of(area)
            docs, _ = await self.store.query(plan)
            doc = docs[0] if docs else None
        shown = visible(doc, scope) if doc is not None else None
        if shown is None:
            raise not_found(f"no entity {entity_id}")
        return shown

    async def query(self, plan: QueryPlan) -> tuple[list[Doc], int | None]:
        return await self.store.query(plan)


def _squash(events: list[ChangeEvent]) -> list[ChangeEvent]:
    """One event per entity for one request (a batch may touch an id twice)."""
    first: dict[str, ChangeEvent] = {}
    last: dict[str, ChangeEvent] = {}
    for event in events:
        first.setdefault(event.entity_id, event)
        last[event.entity_id] = event
    out = []
    for eid, event in last.items():
        before = first[eid].before
        if before is None and event.after is None:
            continue
        out.append(event_for(before, event.after) if first[eid] is not event else event)
    return out


# --- change builders (pure) ----------------------------------------------------------------


def create(doc: Doc) -> Change:
    def change(before: Doc | None) -> Doc:
        if before is not None:
            raise already_exists(f"the entity {doc['id']} already exists")
        return doc

    return change


def must_exist(before: Doc | None, entity_id: str) -> Doc:
    if before is None:
        raise not_found(f"no entity {entity_id}")
    return before


def replace(doc: Doc, *, upsert: bool = False) -> Change:
    """PUT / upsert with replace: the entity becomes ``doc`` (createdAt kept)."""

    def change(before: Doc | None) -> Doc:
        if before is None:
            if not upsert:
                raise not_found(f"no entity {doc['id']}")
            return doc
        out = dict(doc)
        out["createdAt"] = before.get("createdAt", doc["createdAt"])
        return out

    return change


def _touch(doc: Doc, now: str) -> Doc:
    doc["modifiedAt"] = now
    return doc


def _merge_types(doc: Doc, frag: Doc) -> None:
    if "type" in frag:
        types = list(doc.get("type", []))
        for t in frag["type"]:
            if t not in types:
                types.append(t)
        doc["type"] = types
    if "scope" in frag:
        doc["scope"] = frag["scope"]


def merge(entity_id: str, frag: Doc, now: str, *, upsert_doc: Doc | None = None) -> Change:
    """PATCH /entities/{id} (merge-patch semantics, NULL deletes)."""

    def change(before: Doc | None) -> Doc:
        if before is None:
            if upsert_doc is not None:
                return upsert_doc
            raise not_found(f"no entity {entity_id}")
        doc = dict(before)
        _merge_types(doc, frag)
        for name, instances in frag.items():
            if ":" not in name:
                continue
            if instances is None:
                doc.pop(name, None)
                continue
            doc[name] = merge_instances(doc.get(name), instances)
        drop_datasets(doc, frag)
        return _touch(doc, now)

    return change


def append(
    entity_id: str, frag: Doc, now: str, outcome: Outcome, *, overwrite: bool, only_existing: bool
) -> Change:
    """POST /attrs (append, maybe noOverwrite) and PATCH /attrs (update existing only)."""

    def change(before: Doc | None) -> Doc:
        doc = dict(must_exist(before, entity_id))
        _merge_types(doc, frag)
        for name, instances in frag.items():
            if ":" not in name:
                continue
            if instances is None:
                # §5.6.3: in an update the NGSI-LD Null deletes the attribute; an append
                # (§5.6.4) has nothing to delete, so there it stays the client's error
                if not only_existing:
                    raise bad_data(f"{name}: null deletes only in an update or a merge")
                if doc.pop(name, None) is None:
                    outcome.attrs_not_updated.append((name, "attribute does not exist"))
                else:
                    outcome.attrs_updated.append(name)
                continue
            existing: list[Instance] = doc.get(name) or []
            datasets = {i.get("datasetId") for i in existing}
            if only_existing:
                if not existing or any(i.get("datasetId") not in datasets for i in instances):
                    outcome.attrs_not_updated.append((name, "attribute does not exist"))
                    continue
            elif not overwrite and any(i.get("datasetId") in datasets for i in instances):
                outcome.attrs_not_updated.append((name, "attribute exists; noOverwrite"))
                continue
            doc[name] = put_instances(existing, instances)
            outcome.attrs_updated.append(name)
        if frag.get(DROP_DATASETS):
            if not only_existing:
                raise bad_data("null deletes only in an update or a merge")
            outcome.attrs_updated += drop_datasets(doc, frag)
        return _touch(doc, now)

    return change


def patch_attribute(entity_id: str, name: str, instances: list[Instance], now: str) -> Change:
    """PATCH /attrs/{attrId}: merge into the existing instance with the same datasetId."""

    def change(before: Doc | None) -> Doc:
        doc = dict(must_exist(before, entity_id))
        existing = doc.get(name)
        if not existing:
            raise not_found(f"the entity {entity_id} has no attribute {name}")
        datasets = {i.get("datasetId") for i in existing}
        for inst in instances:
            if inst.get("datasetId") not in datasets:
                raise not_found(
                    f"the attribute {name} has no instance with datasetId {inst.get('datasetId')}"
                )
        doc[name] = merge_instances(existing, instances)
        return _touch(doc, now)

    return change


def replace_attribute(entity_id: str, name: str, instances: list[Instance], now: str) -> Change:
    """PUT /attrs/{attrId}: replace the instance(s) with the same datasetId."""

    def change(before: Doc | None) -> Doc:
        doc = dict(must_exist(before, entity_id))
        existing = doc.get(name)
        if not existing:
            raise not_found(f"the entity {entity_id} has no attribute {name}")
        doc[name] = put_instances(existing, instances)
        return _touch(doc, now)

    return change


def delete_attribute(
    entity_id: str, name: str, dataset_id: str | None, delete_all: bool, now: str
) -> Change:
    def change(before: Doc | None) -> Doc:
        doc = dict(must_exist(before, entity_id))
        existing: list[Instance] = doc.get(name) or []
        if not existing:
            raise not_found(f"the entity {entity_id} has no attribute {name}")
        if delete_all:
            kept: list[Instance] = []
        else:
            kept = [i for i in existing if i.get("datasetId") != dataset_id]
            if len(kept) == len(existing):
                raise not_found(f"the attribute {name} has no instance with datasetId {dataset_id}")
        if kept:
            doc[name] = kept
        else:
            doc.pop(name)
        return _touch(doc, now)

    return change


def delete(entity_id: str) -> Change:
    def change(before: Doc | None) -> None:
        must_exist(before, entity_id)
        return None

    return change


def stamp() -> str:
    return now_iso()


def summary(outcome: Outcome) -> dict[str, Any]:
    return {
        "created": outcome.created,
        "updated": outcome.updated,
        "deleted": outcome.deleted,
        "errors": [eid for eid, _ in outcome.errors],
    }
