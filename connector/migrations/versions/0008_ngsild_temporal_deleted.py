"""NGSI-LD temporal history: when an entity was deleted (its history is kept).

Revision ID: 0008_ngsild_temporal_deleted
Revises: 0006_ngsild_subs_temporal

Kept in sync with connector/ngsild/temporal/tables.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_ngsild_temporal_deleted"
down_revision = "0006_ngsild_subs_temporal"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ngsild_temporal_entity") as batch:
        batch.add_column(sa.Column("deleted_at", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ngsild_temporal_entity") as batch:
        batch.drop_column("deleted_at")
