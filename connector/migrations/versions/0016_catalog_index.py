"""The federated catalog's index: dataset entries, their facets, crawled nodes, full text.

Revision ID: 0016_catalog_index
Revises: 0001_runtime

Kept in sync with marketplace/catalog/tables.py. Full text: an FTS5 table on SQLite, a
generated weighted tsvector column with a GIN index on PostgreSQL; areas in an R*Tree on
SQLite, a GiST box index on PostgreSQL.
"""

from alembic import op

from marketplace.catalog import tables as t

revision = "0016_catalog_index"
down_revision = "0001_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    for table in (t.entries, t.facets, t.nodes):
        table.create(bind)  # with its indexes
    if bind.dialect.name == "postgresql":
        op.execute(t.PG_TSVECTOR)
        op.execute(t.PG_GIN)
        op.execute(t.PG_BOX)
    else:
        op.execute(t.SQLITE_FTS)
        op.execute(t.SQLITE_FTS_RANK)
        op.execute(t.SQLITE_RTREE)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS catalog_fts")
        op.execute("DROP TABLE IF EXISTS catalog_rtree")
    for table in (t.nodes, t.facets, t.entries):
        table.drop(bind)
