"""Provenance ledger tables (ledger.store, default prefix) and the log's head row.

Revision ID: 0004_ledger
Revises: 0001_runtime
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_ledger"
down_revision = "0001_runtime"
branch_labels = ("ledger",)
depends_on = None


def upgrade() -> None:
    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("size", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "size": 0}])
    op.create_table(
        "ledger_records",
        sa.Column("idx", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("agreement_id", sa.String(512), nullable=False),
    )
    op.create_index("ix_ledger_records_agreement_id", "ledger_records", ["agreement_id"])
    op.create_table(
        "ledger_tree_heads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
        sa.Column("kid", sa.String(512), nullable=False),
    )
    op.create_index("ix_ledger_tree_heads_size", "ledger_tree_heads", ["size"])
    op.create_table(
        "ledger_anchors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary(32), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("log_id", sa.LargeBinary(32), nullable=False),
        sa.Column("chain_id", sa.BigInteger, nullable=False),
        sa.Column("contract", sa.String(64), nullable=False),
        sa.Column("tx_hash", sa.String(80), nullable=False),
        sa.Column("block_number", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "ledger_receipts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agreement_id", sa.String(512), nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_ledger_receipts_agreement_id", "ledger_receipts", ["agreement_id"])


def downgrade() -> None:
    for table in ("ledger_receipts", "ledger_anchors", "ledger_tree_heads", "ledger_records"):
        op.drop_table(table)
    op.drop_table("ledger_head")
