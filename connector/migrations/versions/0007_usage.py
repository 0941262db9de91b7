"""Usage control: the usage counters of ``policies.usage.SqlUsageStore``, the consumer's
record of data it received under an agreement (for ``delete`` duties), and which agreement and
transfer each subscription made with an access token belongs to (for its notifications).

Revision ID: 0007_usage
Revises: 0001_runtime

Kept in sync with ``policies.usage.usage_counters`` and ``connector/enforcement/tables.py``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_usage"
down_revision = "0001_runtime"
branch_labels = ("usage",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_usage_counters",
        sa.Column("agreement_id", sa.String(512), primary_key=True),
        sa.Column("counter_key", sa.String(512), primary_key=True),
        sa.Column("window_key", sa.String(32), primary_key=True),
        sa.Column("used", sa.Integer, nullable=False),
        sa.Column("usage_limit", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "enforcement_received",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("agreement_id", sa.String(300), nullable=False),
        sa.Column("transfer_id", sa.String(200), nullable=False),
        sa.Column("provider_did", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("entity_ids", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=True),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("delete_at", sa.Float, nullable=True),
        sa.Column("deleted_at", sa.Float, nullable=True),
    )
    op.create_index(
        "ix_enforcement_received_due", "enforcement_received", ["deleted_at", "delete_at"]
    )
    op.create_table(
        "enforcement_subscriptions",
        sa.Column("subscription_id", sa.String(2048), primary_key=True),
        sa.Column("agreement_id", sa.String(300), nullable=False),
        sa.Column("transfer_id", sa.String(200), nullable=False),
        sa.Column("consumer_did", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("enforcement_subscriptions")
    op.drop_index("ix_enforcement_received_due", "enforcement_received")
    op.drop_table("enforcement_received")
    op.drop_table("policy_usage_counters")
