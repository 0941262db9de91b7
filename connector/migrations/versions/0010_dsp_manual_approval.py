"""DSP manual approval: an offer may make requests wait for the operator; a held negotiation
keeps the requester's verified credentials until the operator decides.

Revision ID: 0010_dsp_manual_approval
Revises: 0009_dsp_agreement_claims

Kept in sync with connector/dsp/tables.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_dsp_manual_approval"
down_revision = "0009_dsp_agreement_claims"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp_offers") as batch:
        batch.add_column(sa.Column("approval", sa.String(10), nullable=True))
    with op.batch_alter_table("dsp_negotiations") as batch:
        batch.add_column(sa.Column("awaiting_approval", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("consumer_credentials", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp_negotiations") as batch:
        batch.drop_column("consumer_credentials")
        batch.drop_column("awaiting_approval")
    with op.batch_alter_table("dsp_offers") as batch:
        batch.drop_column("approval")
