"""NGSI-LD subscriptions and temporal history.

Revision ID: 0006_ngsild_subs_temporal
Revises: 0002_ngsild

Kept in sync with connector/ngsild/subscriptions/tables.py and connector/ngsild/temporal/tables.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_ngsild_subs_temporal"
down_revision = "0002_ngsild"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ngsild_subscription",
        sa.Column("id", sa.String(2048), primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("restriction", sa.Text, nullable=False),
        sa.Column("owner", sa.String(1024), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("modified_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40), nullable=True),
        sa.Column("times_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("times_failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_notification", sa.String(40), nullable=True),
        sa.Column("last_success", sa.String(40), nullable=True),
        sa.Column("last_failure", sa.String(40), nullable=True),
    )
    op.create_index("ix_ngsild_subscription_owner", "ngsild_subscription", ["owner", "id"])
    op.create_table(
        "ngsild_temporal_entity",
        sa.Column("entity_id", sa.String(2048), primary_key=True),
        sa.Column("types", sa.Text, nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("modified_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ngsild_temporal_type",
        sa.Column("type", sa.String(1024), primary_key=True),
        sa.Column("entity_id", sa.String(2048), primary_key=True),
    )
    op.create_index("ix_ngsild_temporal_type_entity", "ngsild_temporal_type", ["entity_id"])
    op.create_table(
        "ngsild_temporal_attr",
        sa.Column("instance_id", sa.String(100), primary_key=True),
        sa.Column("entity_id", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("dataset_id", sa.String(2048), nullable=True),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("instance", sa.Text, nullable=False),
        sa.Column("observed_at", sa.String(40), nullable=True),
        sa.Column("modified_at", sa.String(40), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
    )
    op.create_index(
        "ix_ngsild_temporal_attr_observed",
        "ngsild_temporal_attr",
        ["entity_id", "name", "observed_at"],
    )
    op.create_index(
        "ix_ngsild_temporal_attr_modified",
        "ngsild_temporal_attr",
        ["entity_id", "name", "modified_at"],
    )


def downgrade() -> None:
    op.drop_table("ngsild_temporal_attr")
    op.drop_table("ngsild_temporal_type")
    op.drop_table("ngsild_temporal_entity")
    op.drop_table("ngsild_subscription")
