"""DSP agreements keep the consumer's verified credentials when a constraint reads them, so the
data plane decides credential, role, claim and consent constraints on every request.

Revision ID: 0009_dsp_agreement_claims
Revises: 0003_dsp

Kept in sync with connector/dsp/tables.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_dsp_agreement_claims"
down_revision = "0003_dsp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp_agreements") as batch:
        batch.add_column(sa.Column("consumer_credentials", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp_agreements") as batch:
        batch.drop_column("consumer_credentials")
