"""The catalog index tables, on this library's own MetaData (the connector's migration
0016_catalog_index creates the same). The full-text part differs by engine and is created by
:mod:`marketplace.catalog.index`: an FTS5 table on SQLite, a generated tsvector column with a
GIN index on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

entries = sa.Table(
    "catalog_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("node", sa.String(500), nullable=False),
    sa.Column("dataset_id", sa.String(500), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("keywords", sa.Text, nullable=False),
    sa.Column("publisher", sa.String(500), nullable=False),
    sa.Column("min_lon", sa.Float, nullable=True),
    sa.Column("min_lat", sa.Float, nullable=True),
    sa.Column("max_lon", sa.Float, nullable=True),
    sa.Column("max_lat", sa.Float, nullable=True),
    sa.Column("price_model", sa.String(20), nullable=False),
    sa.Column("price", sa.Numeric(24, 10), nullable=True),
    sa.Column("currency", sa.String(3), nullable=True),
    sa.Column("license", sa.String(500), nullable=False),
    sa.Column("frequency", sa.String(500), nullable=False),
    sa.Column("hvd_category", sa.String(500), nullable=False),
    sa.Column("modified", sa.String(64), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    #: one opaque word per facet value (type, keyword, theme, publisher), so that a text search
    #: narrowed by a facet is one full-text query (0017_catalog_search)
    sa.Column("tags", sa.Text, nullable=False, server_default=""),
    sa.UniqueConstraint("node", "dataset_id", name="uq_catalog_entries_node_dataset"),
)
sa.Index("ix_catalog_entries_price", entries.c.price_model, entries.c.price)
sa.Index("ix_catalog_entries_publisher", entries.c.publisher)
#: the price sort walks this index and stops at the page (0017_catalog_search)
sa.Index("ix_catalog_entries_price_id", entries.c.price, entries.c.id)

#: multi-valued facets (entity type, keyword, theme), one row per value
facets = sa.Table(
    "catalog_facets",
    metadata,
    sa.Column("entry_id", sa.Integer, nullable=False),
    sa.Column("facet", sa.String(16), nullable=False),
    sa.Column("value", sa.String(500), nullable=False),
)
sa.Index("ix_catalog_facets_value", facets.c.facet, facets.c.value, facets.c.entry_id)
sa.Index("ix_catalog_facets_entry", facets.c.entry_id)

nodes = sa.Table(
    "catalog_nodes",
    metadata,
    sa.Column("did", sa.String(500), primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_success", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("next_attempt", sa.DateTime(timezone=True), nullable=True),
    sa.Column("etag", sa.String(500), nullable=True),
    sa.Column("modified", sa.String(64), nullable=True),
    sa.Column("datasets", sa.Integer, nullable=False),
    sa.Column("refused", sa.Integer, nullable=False),
)

SQLITE_FTS = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS catalog_fts USING fts5("
    "title, description, keywords, tags, tokenize='unicode61 remove_diacritics 2')"
)
#: areas (bounding boxes) for the area query: an R*Tree on SQLite, a GiST box index on PostgreSQL
SQLITE_RTREE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS catalog_rtree USING rtree(id, min_lon, max_lon, "
    "min_lat, max_lat)"
)
PG_BOX = (
    "CREATE INDEX IF NOT EXISTS ix_catalog_entries_box ON catalog_entries USING gist "
    "(box(point(min_lon, min_lat), point(max_lon, max_lat))) WHERE min_lon IS NOT NULL"
)
#: title weighs most, then keywords, then the description; tags filter, never rank (bm25
#: column weights, persisted)
SQLITE_FTS_RANK = (
    "INSERT INTO catalog_fts(catalog_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0, 4.0, 0.0)')"
)
PG_TSVECTOR = (
    "ALTER TABLE catalog_entries ADD COLUMN IF NOT EXISTS search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(keywords, '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce(description, '')), 'C') || "
    "setweight(to_tsvector('simple', coalesce(tags, '')), 'D')) STORED"
)
PG_GIN = (
    "CREATE INDEX IF NOT EXISTS ix_catalog_entries_search ON catalog_entries USING gin (search)"
)
