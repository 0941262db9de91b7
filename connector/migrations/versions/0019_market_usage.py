"""Marketplace: metered usage per agreement and billing period.

Revision ID: 0019_market_usage
Revises: 0015_market

Kept in sync with connector/market/tables.py (``usage``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_market_usage"
down_revision = "0015_market"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_usage",
        sa.Column("agreement_id", sa.String(300), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("entities", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("market_usage")
