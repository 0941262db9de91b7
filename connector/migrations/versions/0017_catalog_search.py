"""The catalog's search at scale: facet tags in the full-text index, a price index.

Revision ID: 0017_catalog_search
Revises: 0016_catalog_index

A text search narrowed by a facet (type, keyword, theme, publisher) becomes one full-text
query: each entry's facet values are opaque words (``catalog_entries.tags``) in the FTS5 table
(a ``tags`` column, weight 0 in bm25) and in the tsvector (weight D). The price sort walks
``ix_catalog_entries_price_id``. Existing entries get their tags here; 0016 creates the tables
from the live metadata, so a fresh database already has the column and only the full-text part
is rebuilt.
"""

import sqlalchemy as sa
from alembic import op

from marketplace.catalog import tables as t
from marketplace.catalog.entries import Entry
from marketplace.catalog.index import entry_tags

revision = "0017_catalog_search"
down_revision = "0016_catalog_index"
branch_labels = None
depends_on = None


def _columns(bind: sa.Connection, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(bind).get_columns(table)}


def _fill_tags(bind: sa.Connection) -> None:
    """(id, tags) of every entry, from its publisher and its facet rows."""
    values: dict[int, dict[str, list[str]]] = {}
    for entry_id, facet, value in bind.execute(
        sa.select(t.facets.c.entry_id, t.facets.c.facet, t.facets.c.value)
    ):
        values.setdefault(entry_id, {}).setdefault(facet, []).append(value)
    out = []
    for entry_id, publisher in bind.execute(sa.select(t.entries.c.id, t.entries.c.publisher)):
        found = values.get(entry_id, {})
        entry = Entry(
            node="",
            dataset_id="",
            title="",
            publisher=publisher,
            entity_types=tuple(found.get("type", ())),
            keywords=tuple(found.get("keyword", ())),
            themes=tuple(found.get("theme", ())),
        )
        out.append((entry_id, " ".join(entry_tags(entry))))
    for start in range(0, len(out), 1000):
        bind.execute(
            sa.text("UPDATE catalog_entries SET tags = :tags WHERE id = :id"),
            [{"id": i, "tags": tags} for i, tags in out[start : start + 1000]],
        )


def upgrade() -> None:
    bind = op.get_bind()
    if "tags" not in _columns(bind, "catalog_entries"):
        op.add_column(
            "catalog_entries", sa.Column("tags", sa.Text, nullable=False, server_default="")
        )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_catalog_entries_price_id ON catalog_entries (price, id)"
    )
    _fill_tags(bind)
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_catalog_entries_search")
        op.execute("ALTER TABLE catalog_entries DROP COLUMN IF EXISTS search")
        op.execute(t.PG_TSVECTOR)
        op.execute(t.PG_GIN)
    else:
        op.execute("DROP TABLE IF EXISTS catalog_fts")
        op.execute(t.SQLITE_FTS)
        op.execute(t.SQLITE_FTS_RANK)
        op.execute(
            "INSERT INTO catalog_fts(rowid, title, description, keywords, tags) "
            "SELECT id, title, description, keywords, tags FROM catalog_entries"
        )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_catalog_entries_price_id")
