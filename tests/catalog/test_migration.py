"""0017_catalog_search on an index 0016 made (no tags, the old full-text part): the entries
get their tags and a text search narrowed by a facet finds them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from connector.storage.migrate import alembic_config, upgrade
from marketplace.catalog.entries import Entry
from marketplace.catalog.index import index_for
from marketplace.catalog.query import parse_query

OLD_FTS = (
    "CREATE VIRTUAL TABLE catalog_fts USING fts5(title, description, keywords, "
    "tokenize='unicode61 remove_diacritics 2')"
)
OLD_TSVECTOR = (
    "ALTER TABLE catalog_entries ADD COLUMN search tsvector GENERATED ALWAYS AS ("
    "setweight(to_tsvector('simple', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('simple', coalesce(keywords, '')), 'B') || "
    "setweight(to_tsvector('simple', coalesce(description, '')), 'C')) STORED"
)


def _as_0016(connection: sa.Connection) -> None:
    command.upgrade(alembic_config(connection), "0016_catalog_index")
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("ALTER TABLE catalog_entries DROP COLUMN search"))
        connection.execute(sa.text("ALTER TABLE catalog_entries DROP COLUMN tags"))
        connection.execute(sa.text(OLD_TSVECTOR))
    else:
        connection.execute(sa.text("DROP TABLE catalog_fts"))
        connection.execute(sa.text("ALTER TABLE catalog_entries DROP COLUMN tags"))
        connection.execute(sa.text(OLD_FTS))
    connection.execute(
        sa.text(
            "INSERT INTO catalog_entries (id, node, dataset_id, title, description, keywords, "
            "publisher, price_model, license, frequency, hvd_category, modified, document) "
            "VALUES (1, 'did:a', 'urn:ds:1', 'Air quality', '', '', 'did:a', 'free', '', '', "
            "'', '', '{}'), (2, 'did:a', 'urn:ds:2', 'Air traffic', '', '', 'did:a', 'free', "
            "'', '', '', '', '{}')"
        )
    )
    connection.execute(
        sa.text(
            "INSERT INTO catalog_facets (entry_id, facet, value) VALUES "
            "(1, 'type', 'https://x/AirQualityObserved'), (1, 'type_name', 'AirQualityObserved')"
        )
    )
    if connection.dialect.name == "postgresql":  # explicit ids: the sequence moves on too
        connection.execute(
            sa.text("SELECT setval(pg_get_serial_sequence('catalog_entries', 'id'), 2)")
        )
    else:
        connection.execute(
            sa.text(
                "INSERT INTO catalog_fts(rowid, title, description, keywords) "
                "SELECT id, title, description, keywords FROM catalog_entries"
            )
        )


async def test_0017_tags_an_existing_index(db_url: str) -> None:
    engine = create_async_engine(db_url)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_as_0016)
            await conn.commit()
        await upgrade(engine)
        index = index_for(engine)
        found = await index.search(parse_query({"q": "air", "type": "AirQualityObserved"}))
        assert [i["datasetId"] for i in found.items] == ["urn:ds:1"]
        assert (await index.search(parse_query({"q": "air", "publisher": "did:a"}))).total == 2
        # and new entries are tagged as they are written
        await index.replace_node(
            "did:b", [Entry(node="did:b", dataset_id="urn:ds:3", title="Air", publisher="did:b")]
        )
        assert (await index.search(parse_query({"q": "air", "publisher": "did:b"}))).total == 1
    finally:
        await engine.dispose()
