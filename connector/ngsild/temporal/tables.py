"""History tables of the temporal API. The migrations ``0006_ngsild_subs_temporal`` and
``0008_ngsild_temporal_deleted`` create the same; keep them in sync.

* ``ngsild_temporal_entity``: one row per entity ever seen (its types, first and last change,
  when it was deleted if it stands deleted),
  so entity-level filters and pagination never scan the history itself;
* ``ngsild_temporal_type``: (type, entity) pairs for ``type=`` filters;
* ``ngsild_temporal_attr``: one row per attribute instance change, its instance JSON (stored
  form) and the three time properties as sortable UTC text, indexed per entity and attribute.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, MetaData, String, Table, Text

metadata = MetaData()

temporal_entities = Table(
    "ngsild_temporal_entity",
    metadata,
    Column("entity_id", String(2048), primary_key=True),
    Column("types", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("modified_at", String(40), nullable=False),
    # set while the entity stands deleted (migration 0008_ngsild_temporal_deleted)
    Column("deleted_at", String(40), nullable=True),
)
temporal_types = Table(
    "ngsild_temporal_type",
    metadata,
    Column("type", String(1024), primary_key=True),
    Column("entity_id", String(2048), primary_key=True),
    Index("ix_ngsild_temporal_type_entity", "entity_id"),
)
temporal_attrs = Table(
    "ngsild_temporal_attr",
    metadata,
    Column("instance_id", String(100), primary_key=True),
    Column("entity_id", String(2048), nullable=False),
    Column("name", String(1024), nullable=False),
    Column("dataset_id", String(2048), nullable=True),
    Column("kind", String(24), nullable=False),
    Column("instance", Text, nullable=False),
    Column("observed_at", String(40), nullable=True),
    Column("modified_at", String(40), nullable=False),
    Column("created_at", String(40), nullable=False),
    Index("ix_ngsild_temporal_attr_observed", "entity_id", "name", "observed_at"),
    Index("ix_ngsild_temporal_attr_modified", "entity_id", "name", "modified_at"),
)
