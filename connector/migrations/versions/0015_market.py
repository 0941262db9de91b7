"""Marketplace: offering versions and payments.

Revision ID: 0015_market
Revises: 0001_runtime

Kept in sync with connector/market/tables.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_market"
down_revision = "0001_runtime"
branch_labels = ("market",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "market_offerings",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("lifecycle", sa.String(12), nullable=False),
        sa.Column("dataset_id", sa.String(500), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_market_offerings_lifecycle", "market_offerings", ["lifecycle", "dataset_id"]
    )
    op.create_table(
        "market_payments",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("agreement_id", sa.String(300), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(300), nullable=False, unique=True),
        sa.Column("amount", sa.String(40), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("payer", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_market_payments_agreement_id", "market_payments", ["agreement_id"])


def downgrade() -> None:
    op.drop_index("ix_market_payments_agreement_id", "market_payments")
    op.drop_table("market_payments")
    op.drop_index("ix_market_offerings_lifecycle", "market_offerings")
    op.drop_table("market_offerings")
