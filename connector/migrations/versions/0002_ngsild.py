"""NGSI-LD broker: entities (JSON documents) and their type, attribute and geo index tables.

Revision ID: 0002_ngsild
Revises: 0001_runtime

Kept in sync with the Table definitions in connector/ngsild/store.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_ngsild"
down_revision = "0001_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsild_entity",
        sa.Column("id", sa.String(2048), primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("modified_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ngsild_entity_type",
        sa.Column("type", sa.String(1024), primary_key=True),
        sa.Column("entity_id", sa.String(2048), primary_key=True),
    )
    op.create_index("ix_ngsild_entity_type_entity", "ngsild_entity_type", ["entity_id"])
    op.create_table(
        "ngsild_attr",
        sa.Column("entity_id", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("num", sa.Float, nullable=True),
        sa.Column("txt", sa.String(500), nullable=True),
    )
    op.create_index("ix_ngsild_attr_entity", "ngsild_attr", ["entity_id", "name", "num", "txt"])
    op.create_index("ix_ngsild_attr_num", "ngsild_attr", ["name", "num"])
    op.create_index("ix_ngsild_attr_txt", "ngsild_attr", ["name", "txt"])
    op.create_table(
        "ngsild_geo",
        sa.Column("entity_id", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("big", sa.Integer, nullable=False),
        sa.Column("cell", sa.Integer, nullable=True),
        sa.Column("min_x", sa.Float, nullable=False),
        sa.Column("min_y", sa.Float, nullable=False),
        sa.Column("max_x", sa.Float, nullable=False),
        sa.Column("max_y", sa.Float, nullable=False),
    )
    op.create_index("ix_ngsild_geo_entity", "ngsild_geo", ["entity_id"])
    op.create_index("ix_ngsild_geo_box", "ngsild_geo", ["name", "big", "min_x", "min_y"])
    op.create_index("ix_ngsild_geo_cell", "ngsild_geo", ["name", "cell"])


def downgrade() -> None:
    op.drop_table("ngsild_geo")
    op.drop_table("ngsild_attr")
    op.drop_table("ngsild_entity_type")
    op.drop_table("ngsild_entity")
