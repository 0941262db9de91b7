"""Bulk inserts of the broker's writer: every row lands once, whatever the batch size."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select

from connector.ngsild.store import attr_index, bulk_insert, metadata

INSERT = insert(attr_index)


@pytest.mark.parametrize("count", [0, 1, 3, 4, 5, 17, 255, 256, 257, 600])
def test_rows_are_inserted_once_in_order(tmp_path: Path, count: int) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    metadata.create_all(engine)
    rows = [(f"urn:e:{i:04d}", "https://x.org/p", "Property", float(i), None) for i in range(count)]
    with engine.begin() as conn:
        bulk_insert(conn, INSERT, rows)
    with engine.connect() as conn:
        stored = conn.execute(select(attr_index).order_by(attr_index.c.entity_id)).all()
    assert [tuple(r) for r in stored] == rows
    engine.dispose()


def test_rows_must_follow_the_table_columns(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    metadata.create_all(engine)
    partial = insert(attr_index).values(entity_id="x", name="y", kind="Property")
    with engine.begin() as conn, pytest.raises(ValueError, match="not its columns"):
        bulk_insert(conn, partial, [("urn:e:1", "n", "Property", 1.0, None)])
    engine.dispose()
