"""Trust: received credentials, the ID-token replay cache, and the authority's status lists,
membership requests, members and issued credentials.

Revision ID: 0005_trust
Revises: 0001_runtime
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_trust"
down_revision = "0001_runtime"
branch_labels = ("trust",)
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "trust_credentials",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("issuer", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("valid_until", sa.Float, nullable=True),
        sa.Column("jwt", sa.Text, nullable=False),
        _ts("received_at"),
    )
    op.create_table(
        "trust_replay",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_index("ix_trust_replay_expires_at", "trust_replay", ["expires_at"])
    op.create_table(
        "trust_status_lists",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        _ts("updated_at"),
    )
    op.create_table(
        "trust_membership_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("did", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("decided_at", nullable=True),
    )
    op.create_table(
        "trust_members",
        sa.Column("did", sa.String(500), primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("dsp_endpoint", sa.Text, nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        _ts("joined_at"),
        _ts("revoked_at", nullable=True),
    )
    op.create_table(
        "trust_issued",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("list_id", sa.String(100), nullable=False),
        sa.Column("list_index", sa.Integer, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
        _ts("issued_at"),
    )
    op.create_index("ix_trust_issued_subject", "trust_issued", ["subject"])


def downgrade() -> None:
    op.drop_index("ix_trust_issued_subject", "trust_issued")
    op.drop_index("ix_trust_replay_expires_at", "trust_replay")
    for name in (
        "trust_issued",
        "trust_members",
        "trust_membership_requests",
        "trust_status_lists",
        "trust_replay",
        "trust_credentials",
    ):
        op.drop_table(name)
