"""Ledger: indexes for look-ups by content, so that the receipt exchange asks the database
whether a record or receipt is already held instead of keeping every leaf hash in memory.

Revision ID: 0011_ledger_lookups
Revises: 0004_ledger

Kept in sync with ledger/store.py (make_tables).
"""

from alembic import op

revision = "0011_ledger_lookups"
down_revision = "0004_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_records_agreement_leaf", "ledger_records", ["agreement_id", "leaf_hash"]
    )
    op.create_index("ix_ledger_receipts_agreement_idx", "ledger_receipts", ["agreement_id", "idx"])


def downgrade() -> None:
    op.drop_index("ix_ledger_receipts_agreement_idx", "ledger_receipts")
    op.drop_index("ix_ledger_records_agreement_leaf", "ledger_records")
