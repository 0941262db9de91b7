"""The catalog index: dataset entries with full-text search and facets, on either engine.

:class:`CatalogIndex` holds what both engines share (the tables, the filters, the atomic
replace); :class:`SqliteIndex` ranks with FTS5's bm25, :class:`PostgresIndex` with a weighted
tsvector under a GIN index. The caller owns the engine (as for the ledger); ``index_for``
picks the implementation from its dialect. A node's entries are replaced in one transaction,
so a reader sees either the old or the new entries of a node, never none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from marketplace.catalog import tables as t
from marketplace.catalog.entries import Entry
from marketplace.catalog.nodes import NodeStatus
from marketplace.catalog.query import Query

FACET_COLUMNS = {
    "publisher": t.entries.c.publisher,
    "priceModel": t.entries.c.price_model,
    "license": t.entries.c.license,
    "hvdCategory": t.entries.c.hvd_category,
}
_NODE_FIELDS = (
    "url",
    "state",
    "failures",
    "last_success",
    "last_error",
    "last_error_at",
    "next_attempt",
    "etag",
    "modified",
    "datasets",
    "refused",
)


#: matches counted exactly; beyond, ``total`` is this and ``exact`` false (counting and
#: faceting every match of a common word would cost more than the search itself)
COUNT_CAP = 1000


@dataclass
class Results:
    total: int
    items: list[dict[str, Any]]
    facets: dict[str, dict[str, int]] = field(default_factory=dict)
    #: whether ``total`` (and the facet counts) cover every match, not the first COUNT_CAP
    exact: bool = True


def local_name(iri: str) -> str:
    """The short name an IRI ends with (after its last ``/`` or ``#``): how people write an
    NGSI-LD type, whichever @context expanded it."""
    return iri.rstrip("/#").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def entry_view(row: Any, types: list[str]) -> dict[str, Any]:
    """One search hit as the API shows it."""
    bbox = None
    if row.min_lon is not None:
        bbox = [row.min_lon, row.min_lat, row.max_lon, row.max_lat]
    price = row.price
    return {
        "datasetId": row.dataset_id,
        "node": row.node,
        "title": row.title,
        "description": row.description,
        "publisher": row.publisher,
        "keywords": [k for k in row.keywords.split("\n") if k],
        "entityTypes": types,
        "bbox": bbox,
        "free": row.price_model == "free",
        "priceModel": row.price_model,
        "price": None if price is None else str(Decimal(price).normalize()),
        "currency": row.currency,
        "license": row.license or None,
        "frequency": row.frequency or None,
        "hvdCategory": row.hvd_category or None,
        "modified": row.modified or None,
        "dataset": json.loads(row.document),
    }


class CatalogIndex:
    """Engine-neutral part; subclasses add the full-text index and its ranking."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._writer: Any = (
            asyncio.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    # --- schema -------------------------------------------------------------------------
    async def create_schema(self) -> None:
        """For standalone use (tests, the benchmark); a connector runs migration 0014."""
        async with self.engine.begin() as conn:
            await conn.run_sync(t.metadata.create_all)
            for ddl in self.fts_ddl():
                await conn.execute(sa.text(ddl))

    def fts_ddl(self) -> Sequence[str]:
        raise NotImplementedError

    # --- writes -------------------------------------------------------------------------
    async def replace_node(self, node: str, items: Sequence[Entry]) -> None:
        """All entries of ``node`` replaced by ``items``, in one transaction (all or none).
        The rows are built before it begins, so the write lock is held for SQL alone; on
        SQLite (one writer at a time) this process's writers queue here rather than time out
        on the database's lock while a crawl round refreshes many nodes at once."""
        rows = [_row(e) for e in items]
        async with self._writer:
            await self._replace(node, items, rows)

    async def _replace(self, node: str, items: Sequence[Entry], rows: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            old = [
                r[0]
                for r in await conn.execute(
                    sa.select(t.entries.c.id).where(t.entries.c.node == node)
                )
            ]
            await self._delete(conn, old)
            if not items:
                return
            ids = (
                (
                    await conn.execute(
                        sa.insert(t.entries).returning(
                            t.entries.c.id, sort_by_parameter_order=True
                        ),
                        rows,
                    )
                )
                .scalars()
                .all()
            )
            facet_rows = [
                {"entry_id": i, "facet": kind, "value": value[:500]}
                for i, e in zip(ids, items, strict=True)
                for kind, values in (
                    ("type", e.entity_types),
                    ("type_name", [local_name(v) for v in e.entity_types]),
                    ("keyword", e.keywords),
                    ("theme", e.themes),
                )
                for value in dict.fromkeys(values)
            ]
            if facet_rows:
                await conn.execute(sa.insert(t.facets), facet_rows)
            await self._add_text(conn, list(zip(ids, rows, strict=True)))

    async def _delete(self, conn: AsyncConnection, ids: list[int]) -> None:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            await conn.execute(sa.delete(t.facets).where(t.facets.c.entry_id.in_(chunk)))
            await self._delete_text(conn, chunk)
            await conn.execute(sa.delete(t.entries).where(t.entries.c.id.in_(chunk)))

    async def _add_text(
        self, conn: AsyncConnection, rows: list[tuple[int, dict[str, Any]]]
    ) -> None:
        return None

    async def _delete_text(self, conn: AsyncConnection, ids: list[int]) -> None:
        return None

    async def save_node(self, status: NodeStatus) -> None:
        values = {k: getattr(status, k) for k in _NODE_FIELDS}
        async with self.engine.begin() as conn:
            done = await conn.execute(
                sa.update(t.nodes).where(t.nodes.c.did == status.did).values(**values)
            )
            if not done.rowcount:
                await conn.execute(sa.insert(t.nodes).values(did=status.did, **values))

    async def forget_node(self, did: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(t.nodes).where(t.nodes.c.did == did))

    async def load_nodes(self) -> dict[str, NodeStatus]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(t.nodes).order_by(t.nodes.c.did))).all()
        return {
            r.did: NodeStatus(did=r.did, **{k: _aware(getattr(r, k)) for k in _NODE_FIELDS})
            for r in rows
        }

    async def count(self, node: str | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(t.entries)
        if node is not None:
            stmt = stmt.where(t.entries.c.node == node)
        async with self.engine.connect() as conn:
            return int((await conn.execute(stmt)).scalar_one())

    async def all_entries(self, limit: int = 100_000) -> list[dict[str, Any]]:
        """Every entry (for the DSP catalog of catalogs and the DCAT-AP export)."""
        return (await self.search(Query(sort="title", limit=limit))).items

    # --- reads --------------------------------------------------------------------------
    def _text_filter(self, query: Query) -> tuple[Any, Any] | None:
        """(where clause, rank expression) for the words, or None without words."""
        raise NotImplementedError

    def _from(self, query: Query) -> Any:
        """What the search selects from (SQLite joins its FTS5 table for the words)."""
        return t.entries

    @staticmethod
    def _facet_terms(query: Query) -> list[tuple[str, str]]:
        """The multi-valued facets asked for, as (facet, value)."""
        found = [
            # a full IRI matches itself; a short name (AirQualityObserved) the IRI it ends
            ("type", query.type)
            if query.type is None or ":" in query.type
            else ("type_name", query.type),
            ("keyword", query.keyword),
            ("theme", query.theme),
        ]
        return [(k, v) for k, v in found if v is not None]

    @classmethod
    def _tags(cls, query: Query) -> list[str]:
        """With words, the facets (and the publisher) are words of the full-text query too:
        one index intersection instead of a join per facet."""
        pairs = cls._facet_terms(query)
        if query.publisher is not None:
            pairs.append(("publisher", query.publisher))
        return [tag(k, v) for k, v in pairs]

    def _filters(self, query: Query) -> list[Any]:
        e = t.entries.c
        where: list[Any] = []
        texted = bool(query.words)  # then the facets are in the text query (``_tags``)
        for kind, value in [] if texted else self._facet_terms(query):
            where.append(
                e.id.in_(
                    sa.select(t.facets.c.entry_id).where(
                        t.facets.c.facet == kind, t.facets.c.value == value
                    )
                )
            )
        columns: list[tuple[Any, str | None]] = [
            (e.publisher, None if texted else query.publisher),
            (e.license, query.license),
            (e.frequency, query.frequency),
            (e.hvd_category, query.hvd_category),
            (e.price_model, query.price_model),
        ]
        for column, wanted in columns:
            if wanted is not None:
                where.append(column == wanted)
        if query.free is True:
            where.append(e.price_model == "free")
        elif query.free is False:
            where.append(e.price_model != "free")
        if query.open is True:
            where += [e.price_model == "free", e.license != ""]
        elif query.open is False:
            where.append(sa.or_(e.price_model != "free", e.license == ""))
        if query.price_max is not None and (query.free is False or query.price_min is not None):
            where.append(e.price <= query.price_max)  # no free ones asked for: a plain range
        elif query.price_max is not None:
            where.append(sa.or_(e.price_model == "free", e.price <= query.price_max))
        if query.price_min is not None:
            where.append(e.price >= query.price_min)
        if query.bbox is not None:
            where += self._area(query.bbox)
        return where

    def _area(self, bbox: tuple[float, float, float, float]) -> list[Any]:
        """Datasets whose area's box intersects ``bbox`` (engines add their spatial index)."""
        e = t.entries.c
        w, s, east, n = bbox
        return [e.min_lon <= east, e.max_lon >= w, e.min_lat <= n, e.max_lat >= s]

    async def search(self, query: Query) -> Results:
        e = t.entries.c
        where = self._filters(query)
        text = self._text_filter(query)
        if text is not None:
            where.append(text[0])
        source = self._from(query)
        capped = sa.select(e.id).select_from(source).where(*where).limit(COUNT_CAP + 1)
        total_stmt = sa.select(sa.func.count()).select_from(capped.subquery())
        async with self.engine.connect() as conn:
            # the (capped) count first: it decides how the matches are ranked
            total = int((await conn.execute(total_stmt)).scalar_one())
            if text is not None and query.sort == "relevance" and total > COUNT_CAP:
                ids = await self._tiered(conn, query)
            else:
                ids = await self._sorted(conn, query, source, where, text)
            rows, types = await self._rows(conn, ids)
            facets: dict[str, dict[str, int]] = {}
            if query.facets:
                facets = await self._facets(conn, capped)
        items = [entry_view(r, types.get(r.id, [])) for r in rows]
        return Results(
            total=min(total, COUNT_CAP), items=items, facets=facets, exact=total <= COUNT_CAP
        )

    def _order(self, query: Query, text: tuple[Any, Any] | None) -> list[Any]:
        e = t.entries.c
        if query.sort == "title":
            return [e.title, e.id]
        if query.sort == "price" and (query.free is False or query.price_min is not None):
            return [e.price, e.id]  # no free ones among the hits: a plain (cheaper) sort
        if query.sort == "price":
            return [sa.case((e.price_model == "free", 0), else_=1), e.price, e.id]
        if query.sort == "modified":
            return [e.modified.desc(), e.id]
        return [text[1], e.id] if text is not None else [e.title, e.id]

    async def _sorted(
        self,
        conn: AsyncConnection,
        query: Query,
        source: Any,
        where: list[Any],
        text: tuple[Any, Any] | None,
    ) -> list[int]:
        """The page's ids in the asked order (by bm25 / ts_rank when relevance: at most
        COUNT_CAP matches are ranked this way). Ids only, a narrow sort; rows come after."""
        stmt = (
            sa.select(t.entries.c.id)
            .select_from(source)
            .where(*where)
            .order_by(*self._order(query, text))
            .limit(query.limit)
            .offset(query.offset)
        )
        return [r[0] for r in await conn.execute(stmt)]

    async def _tiered(self, conn: AsyncConnection, query: Query) -> list[int]:
        """Relevance for a common query (more than COUNT_CAP matches): the datasets with every
        word in their title first, then the others, each tier newest-indexed first. Scoring
        every match (bm25, ts_rank) is linear in the matches; this reads one page per tier."""
        filters = self._filters(query)
        ids: list[int] = []
        skip = query.offset
        for tier in self._tiers(query):
            stmt = self._tier_select(query, tier).where(*filters)
            page = stmt.order_by(self._tier_order(query)).limit(query.limit - len(ids)).offset(skip)
            ids += [r[0] for r in await conn.execute(page)]
            if len(ids) >= query.limit:
                break
            if skip:  # the next tier starts where this one's matches end
                counted = sa.select(sa.func.count()).select_from(stmt.subquery())
                skip = max(0, skip - int((await conn.execute(counted)).scalar_one()))
        return ids

    def _tiers(self, query: Query) -> list[Any]:
        """The text conditions of the relevance tiers, best first (engine-specific)."""
        raise NotImplementedError

    def _tier_select(self, query: Query, tier: Any) -> Any:
        return sa.select(t.entries.c.id).where(tier)

    def _tier_order(self, query: Query) -> Any:
        return t.entries.c.id.desc()

    async def _rows(
        self, conn: AsyncConnection, ids: list[int]
    ) -> tuple[list[Any], dict[int, list[str]]]:
        if not ids:
            return [], {}
        e = t.entries.c
        by_id = {r.id: r for r in await conn.execute(sa.select(t.entries).where(e.id.in_(ids)))}
        types: dict[int, list[str]] = {}
        for entry_id, value in await conn.execute(
            sa.select(t.facets.c.entry_id, t.facets.c.value).where(
                t.facets.c.facet == "type", t.facets.c.entry_id.in_(ids)
            )
        ):
            types.setdefault(entry_id, []).append(value)
        return [by_id[i] for i in ids if i in by_id], types

    async def _facets(self, conn: AsyncConnection, capped: Any) -> dict[str, dict[str, int]]:
        """Counts per facet value over the (capped) matches, in one pass."""
        e = t.entries.c
        sample = capped.subquery()
        counted: dict[str, Counter[str]] = {name: Counter() for name in FACET_COLUMNS}
        for row in await conn.execute(
            sa.select(*FACET_COLUMNS.values()).where(e.id.in_(sa.select(sample.c.id)))
        ):
            for name, value in zip(FACET_COLUMNS, row, strict=True):
                if value:
                    counted[name][str(value)] += 1
        return {name: dict(c.most_common(20)) for name, c in counted.items()}


def _aware(value: Any) -> Any:
    """SQLite gives timestamps back without their zone (stored as UTC): make them aware."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _row(e: Entry) -> dict[str, Any]:
    box = e.bbox or (None, None, None, None)
    return {
        "node": e.node,
        "dataset_id": e.dataset_id,
        "title": e.title,
        "description": e.description,
        "keywords": "\n".join((*e.keywords, *e.themes)),
        "publisher": e.publisher,
        "min_lon": box[0],
        "min_lat": box[1],
        "max_lon": box[2],
        "max_lat": box[3],
        "price_model": e.price_model,
        "price": e.price,
        "currency": e.currency,
        "license": e.license,
        "frequency": e.frequency,
        "hvd_category": e.hvd_category,
        "modified": e.modified,
        "document": json.dumps(e.document, separators=(",", ":"), default=str),
        "tags": " ".join(entry_tags(e)),
    }


def tag(kind: str, value: str) -> str:
    """The opaque word standing for one facet value in the full-text index: letters and digits
    only, so no tokenizer splits it and no query syntax can be built from it."""
    return "t" + hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:20]


def entry_tags(e: Entry) -> list[str]:
    values = [
        ("type", e.entity_types),
        ("type_name", [local_name(v) for v in e.entity_types]),
        ("keyword", e.keywords),
        ("theme", e.themes),
        ("publisher", [e.publisher]),
    ]
    return list(dict.fromkeys(tag(k, v[:500]) for k, vs in values for v in vs if v))


_FTS = sa.table("catalog_fts", sa.column("rowid", sa.Integer), sa.column("rank", sa.Float))
_RTREE = sa.table(
    "catalog_rtree",
    *(sa.column(c, sa.Float) for c in ("min_lon", "max_lon", "min_lat", "max_lat")),
    sa.column("id", sa.Integer),
)


class SqliteIndex(CatalogIndex):
    """FTS5 (bm25 ranking) beside the entries; rowid = entry id."""

    def fts_ddl(self) -> Sequence[str]:
        return [t.SQLITE_FTS, t.SQLITE_FTS_RANK, t.SQLITE_RTREE]

    async def _add_text(
        self, conn: AsyncConnection, rows: list[tuple[int, dict[str, Any]]]
    ) -> None:
        await conn.execute(
            sa.text(
                "INSERT INTO catalog_fts(rowid, title, description, keywords, tags) "
                "VALUES (:id, :title, :description, :keywords, :tags)"
            ),
            [
                {
                    "id": i,
                    "title": r["title"],
                    "description": r["description"],
                    "keywords": r["keywords"],
                    "tags": r["tags"],
                }
                for i, r in rows
            ],
        )

        boxed = [
            {"id": i, "w": r["min_lon"], "e": r["max_lon"], "s": r["min_lat"], "n": r["max_lat"]}
            for i, r in rows
            if r["min_lon"] is not None
        ]
        if boxed:
            await conn.execute(
                sa.text(
                    "INSERT INTO catalog_rtree(id, min_lon, max_lon, min_lat, max_lat) "
                    "VALUES (:id, :w, :e, :s, :n)"
                ),
                boxed,
            )

    async def _delete_text(self, conn: AsyncConnection, ids: list[int]) -> None:
        await conn.execute(sa.delete(_FTS).where(_FTS.c.rowid.in_(ids)))
        await conn.execute(sa.delete(_RTREE).where(_RTREE.c.id.in_(ids)))

    def _area(self, bbox: tuple[float, float, float, float]) -> list[Any]:
        w, s, east, n = bbox
        inside = sa.select(_RTREE.c.id).where(
            _RTREE.c.min_lon <= east,
            _RTREE.c.max_lon >= w,
            _RTREE.c.min_lat <= n,
            _RTREE.c.max_lat >= s,
        )
        return [t.entries.c.id.in_(inside)]

    @staticmethod
    def _match(words: list[str]) -> str:
        # every word quoted (no FTS5 operator can be injected), the last one as a prefix
        return (" ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*').strip()

    def _with_tags(self, query: Query, words: str) -> str:
        tags = self._tags(query)
        if not tags:
            return words
        return f"({words}) AND ({{tags}} : ({' '.join(tags)}))"

    def _text_filter(self, query: Query) -> tuple[Any, Any] | None:
        if not query.words:
            return None
        match = self._with_tags(query, self._match(query.words))
        return (sa.text("catalog_fts MATCH :match").bindparams(match=match), _FTS.c.rank)

    def _tiers(self, query: Query) -> list[Any]:
        words = self._match(query.words)
        title = f"{{title}} : ({words})"
        return [
            sa.text("catalog_fts MATCH :match").bindparams(match=self._with_tags(query, m))
            for m in (title, f"({words}) NOT ({title})")
        ]

    def _tier_select(self, query: Query, tier: Any) -> Any:
        joined = t.entries.join(_FTS, _FTS.c.rowid == t.entries.c.id)
        return sa.select(t.entries.c.id).select_from(joined).where(tier)

    def _tier_order(self, query: Query) -> Any:
        return _FTS.c.rowid.desc()  # FTS5 walks its own rowids backwards: no sort

    def _from(self, query: Query) -> Any:
        if not query.words:
            return t.entries
        return t.entries.join(_FTS, _FTS.c.rowid == t.entries.c.id)


_VECTOR: Any = sa.literal_column("catalog_entries.search")


class PostgresIndex(CatalogIndex):
    """A generated, weighted tsvector column (title A, keywords B, description C), GIN."""

    def fts_ddl(self) -> Sequence[str]:
        return [t.PG_TSVECTOR, t.PG_GIN, t.PG_BOX]

    def _area(self, bbox: tuple[float, float, float, float]) -> list[Any]:
        e = t.entries.c
        w, s, east, n = bbox
        box: Any = sa.func.box(
            sa.func.point(e.min_lon, e.min_lat), sa.func.point(e.max_lon, e.max_lat)
        )
        query_box = sa.func.box(sa.func.point(w, s), sa.func.point(east, n))
        return [e.min_lon.is_not(None), box.op("&&")(query_box)]

    @staticmethod
    def _tsquery(words: list[str], weight: str = "") -> str:
        # each word a lexeme (no tsquery operator can be injected), the last one as a prefix;
        # ``weight`` A keeps to the title's lexemes
        lexemes = [w.replace("'", "") for w in words]
        parts = [f"{w}:{weight}" if weight else w for w in lexemes[:-1]]
        parts.append(f"{lexemes[-1]}:*{weight}")
        return " & ".join(parts)

    def _with_tags(self, query: Query, words: str) -> Any:
        tags = self._tags(query)
        expr = f"({words}) & {' & '.join(tags)}" if tags else words
        return sa.func.to_tsquery("simple", sa.literal(expr))

    def _text_filter(self, query: Query) -> tuple[Any, Any] | None:
        if not query.words:
            return None
        tsquery = self._with_tags(query, self._tsquery(query.words))
        return (_VECTOR.op("@@")(tsquery), sa.func.ts_rank(_VECTOR, tsquery).desc())

    def _tiers(self, query: Query) -> list[Any]:
        anywhere = self._tsquery(query.words)
        title = self._tsquery(query.words, "A")
        return [
            _VECTOR.op("@@")(self._with_tags(query, q))
            for q in (title, f"({anywhere}) & !({title})")
        ]


def index_for(engine: AsyncEngine) -> CatalogIndex:
    return PostgresIndex(engine) if engine.dialect.name == "postgresql" else SqliteIndex(engine)
