"""Entity storage on SQLAlchemy Core: one JSON document per entity plus index tables.

``ngsild_entity`` holds the stored form (see :mod:`connector.ngsild.model`) under its id;
the index tables make the common queries cheap at a million entities:

* ``ngsild_entity_type`` (type, entity_id): queries by type walk this primary key in id order,
  so ``type=X&limit=20`` reads about 20 rows;
* ``ngsild_attr`` (one row per attribute instance and scalar content value): attribute
  existence and numeric/string comparisons of q run as index probes; also the source of
  ``/attributes`` discovery;
* ``ngsild_geo`` (bounding box per GeoProperty instance): geo-queries select candidates by box,
  the exact predicate then runs in Python (shapely).

Whatever SQL cannot decide exactly (patterns, sub-attribute paths, exact geometry, scopeQ, the
access area) is checked in Python on the candidates, which are read in id-ordered pages.
The migration ``0002_ngsild`` creates the same tables; keep both in sync.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    event,
    exists,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from connector.ngsild.jsontext import transaction_texts
from connector.ngsild.model import Doc, Instance
from connector.ngsild.query.geo import BBox, GeoQuery, bbox_of
from connector.ngsild.query.patterns import Pattern, compile_pattern
from connector.ngsild.query.q import And, Node, Or, Range, Term, content_values
from connector.ngsild.query.selectors import AllOf, AnyOf, Expr, Leaf, leaves
from connector.storage.engine import sqlite_sync_twin
from ledger.worker import WorkerThread

T = TypeVar("T")
metadata = MetaData()
MAX_TXT = 500
CELL_DEG = 0.01  # grid cell (about 1 km): geometries up to this size are found by cell
MAX_CELLS = 256  # a query box covering more cells scans the min_x range instead

entities = Table(
    "ngsild_entity",
    metadata,
    Column("id", String(2048), primary_key=True),
    Column("doc", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("modified_at", String(40), nullable=False),
)
entity_types = Table(
    "ngsild_entity_type",
    metadata,
    Column("type", String(1024), primary_key=True),
    Column("entity_id", String(2048), primary_key=True),
    Index("ix_ngsild_entity_type_entity", "entity_id"),
)
attr_index = Table(
    "ngsild_attr",
    metadata,
    Column("entity_id", String(2048), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("num", Float, nullable=True),
    Column("txt", String(MAX_TXT), nullable=True),
    # covering: correlated q probes (entity, name, value) never touch the table rows
    Index("ix_ngsild_attr_entity", "entity_id", "name", "num", "txt"),
    Index("ix_ngsild_attr_num", "name", "num"),
    Index("ix_ngsild_attr_txt", "name", "txt"),
)
geo_index = Table(
    "ngsild_geo",
    metadata,
    Column("entity_id", String(2048), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("big", Integer, nullable=False),
    Column("cell", Integer, nullable=True),
    Column("min_x", Float, nullable=False),
    Column("min_y", Float, nullable=False),
    Column("max_x", Float, nullable=False),
    Column("max_y", Float, nullable=False),
    Index("ix_ngsild_geo_entity", "entity_id"),
    Index("ix_ngsild_geo_box", "name", "big", "min_x", "min_y"),
    Index("ix_ngsild_geo_cell", "name", "cell"),
)

E = entities.c
TY = entity_types.c
A = attr_index.c
G = geo_index.c


# Statements built once: a write transaction runs a handful of them per group commit, and
# building, cache-keying and (for a plain list in IN) re-rendering each one cost more than
# executing it on SQLite.
INSERT_ENTITY = insert(entities)
INSERT_TYPES = insert(entity_types)
INSERT_ATTRS = insert(attr_index)
INSERT_GEO = insert(geo_index)
SMALL_IN = 32


@lru_cache(maxsize=2 * SMALL_IN)
def _load_by_ids(n: int, for_update: bool) -> Any:
    """SELECT id, doc ... WHERE id IN (n bound parameters), a fixed statement per n (a list
    given to IN is an "expanding" parameter rendered anew on every execution)."""
    stmt = select(E.id, E.doc).where(E.id.in_([bindparam(f"id{i}") for i in range(n)]))
    return stmt.with_for_update() if for_update else stmt


def id_params(ids: Sequence[str]) -> dict[str, str]:
    return {f"id{i}": eid for i, eid in enumerate(ids)}


_DRIVER_SQL: dict[tuple[int, str], tuple[str, tuple[str, ...]]] = {}


def _driver_sql(conn: Connection, stmt: Any) -> tuple[str, tuple[str, ...]]:
    key = (id(stmt), conn.dialect.name)
    compiled = _DRIVER_SQL.get(key)
    if compiled is None:
        done = stmt.compile(dialect=conn.dialect)
        compiled = _DRIVER_SQL[key] = (done.string, tuple(done.positiontup or ()))
    return compiled


def bulk_insert(conn: Connection, stmt: Any, rows: list[tuple[Any, ...]]) -> None:
    """Execute a prebuilt ``insert(table)`` for many rows as one driver-level executemany,
    the rows given as tuples in the table's column order.

    SQLAlchemy processes every parameter of every row in Python (about 14 us a row, twice the
    cost of SQLite inserting it); the columns written here (text, numbers, NULL) need no type
    processing on either engine, so the statement is compiled once per dialect and the rows
    go to the driver as they are. One executemany, not multi-row ``VALUES`` statements: on
    SQLite those need a statement journal (a later row may fail after earlier ones changed
    pages), which spilled to temporary files, doubling the page writes of a group commit for
    no saving in CPU."""
    if not rows:
        return
    sql, names = _driver_sql(conn, stmt)
    if names != tuple(stmt.table.columns.keys()):
        raise ValueError(f"{stmt.table.name}: the INSERT's parameters are not its columns")
    conn.exec_driver_sql(sql, rows)


# --- index rows -------------------------------------------------------------------------


IndexRows = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]


def _index_rows(doc: Doc, out: IndexRows) -> None:
    """Append the entity's rows of the type, attribute and geo indexes to ``out`` (tuples in
    the tables' column order)."""
    types, attrs, geos = out
    eid = doc["id"]
    for t in doc.get("type", ()):
        types.append((t, eid))
    for name, instances in doc.items():
        if ":" not in name:
            continue
        for inst in instances:
            kind = inst["type"]
            indexed = False
            for value in content_values(inst):
                if isinstance(value, bool) or value is None:
                    continue
                if isinstance(value, int | float):
                    attrs.append((eid, name, kind, float(value), None))
                elif isinstance(value, str) and len(value) <= MAX_TXT:
                    attrs.append((eid, name, kind, None, value))
                else:
                    continue
                indexed = True
            if not indexed:
                attrs.append((eid, name, kind, None, None))
            if kind == "GeoProperty" and isinstance(inst.get("value"), dict):
                minx, miny, maxx, maxy = bbox_of(inst["value"])
                big = int(maxx - minx > CELL_DEG or maxy - miny > CELL_DEG)
                cell = None if big else cell_of(minx, miny)
                geos.append(
                    (eid, name, big, cell, float(minx), float(miny), float(maxx), float(maxy))
                )


# --- query translation --------------------------------------------------------------------


def _attr_exists(name: str, *conds: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(A.entity_id == E.id, A.name == name, *conds)


def _push_term(
    term: Term, expand: Callable[[str], str], allowed: frozenset[str] | None
) -> tuple[ColumnElement[bool] | None, bool]:
    """SQL for one q term and whether it decides the term exactly."""
    name = expand(term.path.attr)
    if allowed is not None and name not in allowed:
        return (true() if term.op == "!" else false()), True
    simple = not term.path.subs and not term.path.keys
    if term.op is None:
        return _attr_exists(name), simple
    if term.op == "!":
        return (~_attr_exists(name), True) if simple else (None, False)
    if not simple or term.op in ("!=", "~=", "!~="):
        return _attr_exists(name), False
    value = term.value
    if term.op == "==":
        values: list[Any]
        if isinstance(value, Range):
            lo, hi = value.low, value.high
            if _is_num(lo) and _is_num(hi):
                return _attr_exists(name, A.num >= lo, A.num <= hi), True
            if isinstance(lo, str) and isinstance(hi, str):
                return _attr_exists(name, A.txt >= lo, A.txt <= hi), False
            return _attr_exists(name), False
        values = list(value) if isinstance(value, tuple) else [value]
        nums = [v for v in values if _is_num(v)]
        txts = [v for v in values if isinstance(v, str) and len(v) <= MAX_TXT]
        if len(nums) + len(txts) != len(values):
            return _attr_exists(name), False
        txts += [expand(t) for t in txts if ":" not in t and " " not in t and t]
        conds: list[ColumnElement[bool]] = []
        if nums:
            conds.append(A.num.in_(nums))
        if txts:
            conds.append(A.txt.in_(sorted(set(txts))))
        # Equality is usually selective: as an IN sub-query the planner may start from the
        # value index (name, txt|num) instead of walking every entity and probing each one.
        return E.id.in_(select(A.entity_id).where(A.name == name, or_(*conds))), True
    if _is_num(value):
        col = A.num
        cond = {">": col > value, ">=": col >= value, "<": col < value, "<=": col <= value}[term.op]
        return _attr_exists(name, cond), True
    return _attr_exists(name), False


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def push_q(
    node: Node, expand: Callable[[str], str], allowed: frozenset[str] | None
) -> tuple[ColumnElement[bool] | None, bool]:
    """The SQL condition for a q tree: a superset of the matches, exact when the flag says so."""
    if isinstance(node, Term):
        return _push_term(node, expand, allowed)
    parts = [push_q(i, expand, allowed) for i in node.items]
    if isinstance(node, And):
        conds = [c for c, _ in parts if c is not None]
        exact = all(c is not None and x for c, x in parts)
        return (and_(*conds) if conds else None), exact
    assert isinstance(node, Or)
    if any(c is None for c, _ in parts):
        return None, False
    return or_(*[c for c, _ in parts if c is not None]), all(x for _, x in parts)


def type_condition(expr: Expr) -> ColumnElement[bool]:
    # An alias, so the sub-query never correlates with a type table driving the outer query.
    t = entity_types.alias("tx")
    if isinstance(expr, Leaf):
        return exists().where(t.c.entity_id == E.id, t.c.type == expr.name)
    if isinstance(expr, AnyOf) and all(isinstance(i, Leaf) for i in expr.items):
        return exists().where(t.c.entity_id == E.id, t.c.type.in_(sorted(leaves(expr))))
    parts = [type_condition(i) for i in expr.items]
    return and_(*parts) if isinstance(expr, AllOf) else or_(*parts)


def cell_of(x: float, y: float) -> int:
    """The grid cell holding a point (a small geometry is filed under its min corner)."""
    return math.floor(x / CELL_DEG) * 20_000 + math.floor(y / CELL_DEG)


def cells_for(box: BBox) -> list[int] | None:
    """Cells whose small geometries may meet ``box`` (None: too many, use a range)."""
    minx, miny, maxx, maxy = box
    x0, x1 = math.floor((minx - CELL_DEG) / CELL_DEG), math.floor(maxx / CELL_DEG)
    y0, y1 = math.floor((miny - CELL_DEG) / CELL_DEG), math.floor(maxy / CELL_DEG)
    if (x1 - x0 + 1) * (y1 - y0 + 1) > MAX_CELLS:
        return None
    return [x * 20_000 + y for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def bbox_condition(name: str, box: BBox) -> ColumnElement[bool]:
    """Entities with a geometry under ``name`` whose bounding box meets ``box``."""
    minx, miny, maxx, maxy = box
    overlap = and_(G.min_x <= maxx, G.max_x >= minx, G.min_y <= maxy, G.max_y >= miny)
    cells = cells_for(box)
    if cells is None:
        small = and_(G.big == 0, G.min_x >= minx - CELL_DEG, G.min_x <= maxx)
    else:
        small = G.cell.in_(cells)
    # two index paths (cells of small geometries, the few big ones) joined by UNION ALL:
    # an OR here would make SQLite read every geometry of the attribute
    ids = union_all(
        select(G.entity_id).where(G.name == name, small, overlap),
        select(G.entity_id).where(G.name == name, G.big == 1, overlap),
    )
    return E.id.in_(ids)


def geo_exists(name: str) -> ColumnElement[bool]:
    return exists().where(G.entity_id == E.id, G.name == name)


@dataclass
class QueryPlan:
    """Everything a query needs, already expanded and compiled by the service."""

    ids: Sequence[str] | None = None
    id_pattern: Pattern | None = None
    types: Expr | None = None
    attrs: frozenset[str] | None = None  # entities must have one of these
    q_sql: ColumnElement[bool] | None = None
    q_exact: bool = True
    predicate: Callable[[Doc], bool] | None = None  # exact check in Python
    geo: GeoQuery | None = None
    area: Any = None  # shapely geometry of the access scope's area
    area_box: BBox | None = None
    allowed_types: frozenset[str] | None = None
    allowed_attrs: frozenset[str] | None = None
    limit: int = 20
    offset: int = 0
    count: bool = False


class Store:
    """Reads and writes entities as synchronous Core code run where it is cheapest.

    On PostgreSQL every operation runs through the async engine (``run_sync``). On SQLite the
    same functions run on the pysqlite driver of the same database file: writes as one call on
    a dedicated writer thread (a whole transaction per thread hop instead of one hop per
    statement through aiosqlite), point reads directly on the event loop (an indexed look-up
    costs tens of microseconds, less than any hand-off) and heavier reads on reader threads.
    """

    PAGE = 500
    #: the most rows a query may read to run on the event loop instead of a reader thread
    INLINE_ROWS = 100

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._sync: Engine | None = None
        self._sync_writer: Engine | None = None
        self._writer: WorkerThread | None = None
        self._writer_conn: Connection | None = None  # used only on the writer thread
        self._readers: WorkerThread | None = None
        if not self.postgres:
            self._sync = sqlite_sync_twin(engine, pool_size=8, max_overflow=8)
            # Writes start with BEGIN IMMEDIATE: a deferred transaction that reads first and
            # then writes fails at once (SQLITE_BUSY_SNAPSHOT) if another connection committed
            # in between; taking the write lock up front makes it wait (busy_timeout) instead.
            self._sync_writer = sqlite_sync_twin(
                engine, pool_size=1, max_overflow=0, caller_begins=True
            )
            event.listen(self._sync_writer, "begin", _begin_immediate)
            event.listen(self._sync_writer, "connect", _writer_pragmas)
            for sync in (self._sync, self._sync_writer):
                event.listen(sync, "connect", _regexp_on_re2)
            # hand-offs through SimpleQueue, not an executor: see ledger.worker
            self._writer = WorkerThread("ngsild-writer")
            self._readers = WorkerThread("ngsild-reader", threads=2)

    def close(self) -> None:
        if self._sync is not None:
            assert self._writer is not None and self._readers is not None
            conn, self._writer_conn = self._writer_conn, None
            self._writer.close(last=conn.close if conn is not None else None)
            self._readers.close()
            self._sync.dispose()
            self._sync = None
        if self._sync_writer is not None:
            self._sync_writer.dispose()
            self._sync_writer = None

    async def transaction(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` in one write transaction, committed when it returns."""
        if self._sync_writer is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(fn, *args)
        sync = self._sync_writer

        def run() -> T:
            # The writer thread keeps its one connection: a pool check-out and check-in
            # (with its reset) per transaction cost more CPU than a small transaction itself.
            conn = self._writer_conn
            if conn is None:
                conn = self._writer_conn = sync.connect()
            with conn.begin():
                return fn(conn, *args)

        assert self._writer is not None
        return await self._writer.run(run)

    async def read(self, fn: Callable[..., T], *args: Any, inline: bool = False) -> T:
        """Run ``fn(conn, *args)`` for reading; ``inline`` for bounded index look-ups."""
        if self._sync is None:
            # PostgreSQL reads at READ COMMITTED: each statement takes its own snapshot with or
            # without a transaction, so none is opened (BEGIN and ROLLBACK cost round trips)
            async with self._autocommit.connect() as conn:
                return await conn.run_sync(fn, *args)
        sync = self._sync

        def run() -> T:
            with sync.connect() as conn:
                return fn(conn, *args)

        if inline:
            return run()
        assert self._readers is not None
        return await self._readers.run(run)

    # -- writes (inside `transaction()`) -------------------------------------------------

    def load_for_update(self, conn: Connection, ids: Iterable[str]) -> dict[str, Doc]:
        ids = list(dict.fromkeys(ids))
        out: dict[str, Doc] = {}
        # pieces of at most SMALL_IN ids, each a prebuilt statement: a larger IN list is built,
        # cache-keyed and rendered anew for every group commit
        for chunk in _chunks(ids, SMALL_IN):
            rows = conn.execute(_load_by_ids(len(chunk), self.postgres), id_params(chunk))
            for row in rows:
                out[row[0]] = json.loads(row[1])
        return out

    def insert(self, conn: Connection, docs: Sequence[Doc]) -> None:
        if not docs:
            return
        texts = transaction_texts(conn)
        rows = [(d["id"], texts.entity(d), d["createdAt"], d["modifiedAt"]) for d in docs]
        bulk_insert(conn, INSERT_ENTITY, rows)
        self._insert_index(conn, docs)

    def _insert_index(self, conn: Connection, docs: Sequence[Doc]) -> None:
        out: IndexRows = ([], [], [])
        for d in docs:
            _index_rows(d, out)
        types, attrs, geos = out
        if types:
            bulk_insert(conn, INSERT_TYPES, types)
        if attrs:
            bulk_insert(conn, INSERT_ATTRS, attrs)
        if geos:
            bulk_insert(conn, INSERT_GEO, geos)

    def _delete_index(self, conn: Connection, ids: Sequence[str]) -> None:
        for chunk in _chunks(list(ids), 500):
            for table in (entity_types, attr_index, geo_index):
                conn.execute(delete(table).where(table.c.entity_id.in_(chunk)))

    def replace(self, conn: Connection, docs: Sequence[Doc]) -> None:
        """Overwrite existing entities' documents and their index rows."""
        if not docs:
            return
        texts = transaction_texts(conn)
        conn.execute(
            update(entities)
            .where(E.id == bindparam("b_id"))
            .values(doc=bindparam("b_doc"), modified_at=bindparam("b_modified")),
            [
                {"b_id": d["id"], "b_doc": texts.entity(d), "b_modified": d["modifiedAt"]}
                for d in docs
            ],
        )
        self._delete_index(conn, [d["id"] for d in docs])
        self._insert_index(conn, docs)

    def delete(self, conn: Connection, ids: Sequence[str]) -> None:
        self._delete_index(conn, ids)
        for chunk in _chunks(list(ids), 500):
            conn.execute(delete(entities).where(E.id.in_(chunk)))

    # -- reads --------------------------------------------------------------------------

    async def get(self, entity_id: str) -> Doc | None:
        return await self.read(self._get, entity_id, inline=True)

    @staticmethod
    def _get(conn: Connection, entity_id: str) -> Doc | None:
        row = conn.execute(select(E.doc).where(E.id == entity_id)).first()
        return json.loads(row[0]) if row else None

    def _conditions(self, plan: QueryPlan) -> list[ColumnElement[bool]]:
        conds: list[ColumnElement[bool]] = []
        if plan.ids is not None:
            conds.append(E.id.in_(list(plan.ids)))
        if plan.id_pattern is not None:
            if not self.postgres:  # REGEXP runs RE2 here (_regexp_on_re2)
                conds.append(E.id.regexp_match(plan.id_pattern.source))
            elif plan.id_pattern.prefix:  # the pattern itself runs in _accept
                conds.append(E.id.startswith(plan.id_pattern.prefix, autoescape=True))
        if plan.allowed_types is not None and not (
            isinstance(plan.types, Leaf) and plan.types.name in plan.allowed_types
        ):  # a query for one allowed type needs no second type test
            conds.append(type_condition(AnyOf(tuple(Leaf(t) for t in sorted(plan.allowed_types)))))
        if plan.types is not None and not self._type_driven(plan):
            conds.append(type_condition(plan.types))
        if plan.attrs is not None:
            names = plan.attrs
            if plan.allowed_attrs is not None:
                names = names & plan.allowed_attrs
            conds.append(
                exists().where(A.entity_id == E.id, A.name.in_(sorted(names))) if names else false()
            )
        if plan.q_sql is not None:
            conds.append(plan.q_sql)
        if plan.geo is not None:
            box = plan.geo.prefilter_bbox()
            visible = plan.allowed_attrs is None or plan.geo.geoproperty in plan.allowed_attrs
            if not visible:
                conds.append(false())
            elif box is not None:
                conds.append(bbox_condition(plan.geo.geoproperty, box))
            else:
                conds.append(geo_exists(plan.geo.geoproperty))
        if plan.area_box is not None:
            from connector.ngsild.render import LOCATION

            conds.append(bbox_condition(LOCATION, plan.area_box))
        return conds

    def _type_driven(self, plan: QueryPlan) -> bool:
        return isinstance(plan.types, Leaf) and plan.geo is None and plan.ids is None

    def _select(self, plan: QueryPlan, columns: Sequence[Any]) -> Any:
        conds = self._conditions(plan)
        if self._type_driven(plan):
            assert isinstance(plan.types, Leaf)
            stmt = (
                select(*columns)
                .select_from(entity_types.join(entities, E.id == TY.entity_id))
                .where(TY.type == plan.types.name, *conds)
            )
            return stmt, TY.entity_id
        return select(*columns).where(*conds), E.id

    def exact(self, plan: QueryPlan) -> bool:
        return (
            plan.q_exact
            and plan.predicate is None
            and plan.geo is None
            and plan.area is None
            and not (self.postgres and plan.id_pattern is not None)
        )

    async def query(self, plan: QueryPlan) -> tuple[list[Doc], int | None]:
        """One page of matching entities (id order) and, if asked, the total count."""
        # On reader threads: even an indexed query may walk many rows before it has a page.
        # A query that reads at most one small page through an index runs on the event loop:
        # the hand-off to a reader and back cost more than the query itself.
        return await self.read(self._query, plan, inline=self.bounded(plan))

    def bounded(self, plan: QueryPlan) -> bool:
        """True when the query reads at most ``INLINE_ROWS`` rows, all through an index: ids
        given, or one entity type (its index is in id order), with no other condition that
        could make SQLite walk past rows it does not return, and no total count."""
        if plan.count or plan.offset + plan.limit > self.INLINE_ROWS or not self.exact(plan):
            return False
        if plan.q_sql is not None or plan.attrs is not None or plan.id_pattern is not None:
            return False
        if plan.area_box is not None:
            return False
        if plan.ids is not None:
            return len(plan.ids) <= self.INLINE_ROWS
        if not self._type_driven(plan):
            return False
        assert isinstance(plan.types, Leaf)
        return plan.allowed_types is None or plan.types.name in plan.allowed_types

    def _query(self, conn: Connection, plan: QueryPlan) -> tuple[list[Doc], int | None]:
        if self.exact(plan):
            docs: list[Doc] = []
            if plan.limit > 0:
                stmt, order = self._select(plan, [E.doc])
                stmt = stmt.order_by(order).limit(plan.limit).offset(plan.offset)
                docs = [json.loads(r[0]) for r in conn.execute(stmt)]
            total = None
            if plan.count:
                stmt, _ = self._select(plan, [func.count(literal_column("1"))])
                total = int(conn.execute(stmt).scalar_one())
            return docs, total
        return self._scan(conn, plan)

    def _scan(self, conn: Connection, plan: QueryPlan) -> tuple[list[Doc], int | None]:
        """Read candidates page by page in id order and keep those the exact checks accept."""
        want = plan.offset + plan.limit
        matched = 0
        page: list[Doc] = []
        last: str | None = None
        size = self.PAGE if plan.count else min(self.PAGE, max(64, 2 * want))
        while True:
            stmt, order = self._select(plan, [E.id, E.doc])
            if last is not None:
                stmt = stmt.where(order > last)
            rows = conn.execute(stmt.order_by(order).limit(size)).all()
            for eid, raw in rows:
                last = eid
                doc = json.loads(raw)
                if not self._accept(plan, doc):
                    continue
                if plan.offset <= matched < want:
                    page.append(doc)
                matched += 1
                if matched >= want and not plan.count:
                    return page, None
            if len(rows) < size:
                break
            size = self.PAGE
        return page, (matched if plan.count else None)

    def _accept(self, plan: QueryPlan, doc: Doc) -> bool:
        if self.postgres and plan.id_pattern is not None and not plan.id_pattern.search(doc["id"]):
            return False
        if plan.predicate is not None and not plan.predicate(doc):
            return False
        if plan.geo is not None:
            instances: list[Instance] = doc.get(plan.geo.geoproperty) or []
            if not any(
                i.get("type") == "GeoProperty"
                and isinstance(i.get("value"), dict)
                and plan.geo.matches(i["value"])
                for i in instances
            ):
                return False
        if plan.area is not None:
            from connector.ngsild.query.geo import shape_of
            from connector.ngsild.render import LOCATION

            locs = doc.get(LOCATION) or []
            if not any(
                isinstance(i.get("value"), dict) and shape_of(i["value"]).intersects(plan.area)
                for i in locs
            ):
                return False
        return True

    # -- discovery ----------------------------------------------------------------------

    async def type_counts(
        self, allowed_types: frozenset[str] | None, only: Sequence[str] | None = None
    ) -> dict[str, int]:
        stmt = select(TY.type, func.count()).group_by(TY.type)
        if allowed_types is not None:
            stmt = stmt.where(TY.type.in_(sorted(allowed_types)))
        if only is not None:
            stmt = stmt.where(TY.type.in_(list(only)))
        rows = await self.read(lambda conn: conn.execute(stmt).all())
        return {r[0]: int(r[1]) for r in rows}

    async def attributes_of_types(
        self,
        types: Sequence[str] | None,
        allowed_types: frozenset[str] | None,
        allowed_attrs: frozenset[str] | None,
    ) -> list[tuple[str, str, str, int]]:
        """Rows of (entity type, attribute name, attribute kind, entity count)."""
        stmt = (
            select(TY.type, A.name, A.kind, func.count(func.distinct(A.entity_id)))
            .select_from(attr_index.join(entity_types, TY.entity_id == A.entity_id))
            .group_by(TY.type, A.name, A.kind)
        )
        if types is not None:
            stmt = stmt.where(TY.type.in_(list(types)))
        if allowed_types is not None:
            stmt = stmt.where(TY.type.in_(sorted(allowed_types)))
        if allowed_attrs is not None:
            stmt = stmt.where(A.name.in_(sorted(allowed_attrs)))
        rows = await self.read(lambda conn: conn.execute(stmt).all())
        return [(r[0], r[1], r[2], int(r[3])) for r in rows]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _regexp(pattern: str | None, value: str | None) -> bool | None:
    if pattern is None or value is None:
        return None
    return compile_pattern(pattern).search(value)


def _regexp_on_re2(dbapi_conn: Any, _record: Any) -> None:
    """SQLite's REGEXP (an idPattern) on RE2, replacing the driver's function on Python's
    backtracking ``re``, which a crafted pattern keeps busy for seconds to hours, GIL held.
    PostgreSQL's ``~`` is not used at all: its syntax is not ECMAScript's (``\\b`` is a
    backspace there, ``(?i)`` only allowed in front), so idPattern runs on RE2 in
    ``Store._accept`` after a prefix pre-filter."""
    dbapi_conn.create_function("regexp", 2, _regexp, deterministic=True)


WRITER_CACHE_KIB = 16_384
WRITER_CHECKPOINT_PAGES = 4_000


def _writer_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """The writer connection's page cache and checkpoint interval (performance only: commits
    stay synchronous=FULL). A group commit of a few dozen creates touches a few hundred pages
    of its index b-trees; with the default 2 MiB cache they were read back from the file time
    and again. Checkpointing every 4,000 WAL pages instead of 1,000 writes a page changed by
    several commits into the database once instead of several times, with a third of the
    checkpoint fsyncs (4,000 creates at 23 per commit: pread 42,842 -> 19,171, pwrite
    156,326 -> 142,442, fdatasync 359 -> 242)."""
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WRITER_CHECKPOINT_PAGES}")
    cursor.close()


def _begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
