"""Trust: the issuance requests this participant made, so its Credential Service stores only
credentials it asked for (issue 14, wallet poisoning).

Revision ID: 0013_trust_issuance_requests
Revises: 0005_trust

Kept in sync with connector/trust/tables.py (issuance_requests).
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_trust_issuance_requests"
down_revision = "0005_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trust_issuance_requests",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("credential_types", sa.Text, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_trust_issuance_requests_issuer_state", "trust_issuance_requests", ["issuer", "state"]
    )


def downgrade() -> None:
    op.drop_index("ix_trust_issuance_requests_issuer_state", "trust_issuance_requests")
    op.drop_table("trust_issuance_requests")
