"""DSP sender-constrained pull tokens (DPoP, RFC 9449): an offer may require them, and a
provider-side transfer keeps the thumbprint of the consumer key its tokens are bound to.

Revision ID: 0012_dsp_dpop
Revises: 0010_dsp_manual_approval

Kept in sync with connector/dsp/tables.py.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_dsp_dpop"
down_revision = "0010_dsp_manual_approval"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp_offers") as batch:
        batch.add_column(sa.Column("token_binding", sa.String(10), nullable=True))
    with op.batch_alter_table("dsp_transfers") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp_transfers") as batch:
        batch.drop_column("dpop_jkt")
    with op.batch_alter_table("dsp_offers") as batch:
        batch.drop_column("token_binding")
