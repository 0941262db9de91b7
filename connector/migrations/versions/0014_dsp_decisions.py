"""DSP operator decisions: which decisions an offer leaves to the operator, and the decision a
negotiation or transfer is waiting for (with since when, for the timeout policy); and the
consumer's token expiry per transfer (its endpoint data reference is renewed before it).

Revision ID: 0014_dsp_decisions
Revises: 0012_dsp_dpop

Kept in sync with connector/dsp/tables.py. (Numbered 0014 because main's 0012/0013 came first;
on merging, make it revise the newest DSP revision, 0012_dsp_dpop, to keep one DSP chain.)
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_dsp_decisions"
down_revision = "0012_dsp_dpop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp_offers") as batch:
        batch.add_column(sa.Column("decisions", sa.Text, nullable=True))
    for table in ("dsp_negotiations", "dsp_transfers"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("decisions", sa.Text, nullable=True))
            batch.add_column(sa.Column("pending_decision", sa.String(20), nullable=True))
            batch.add_column(sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("dsp_transfers") as batch:
        batch.add_column(sa.Column("edr_expires_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp_transfers") as batch:
        batch.drop_column("edr_expires_at")
    for table in ("dsp_transfers", "dsp_negotiations"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("pending_since")
            batch.drop_column("pending_decision")
            batch.drop_column("decisions")
    with op.batch_alter_table("dsp_offers") as batch:
        batch.drop_column("decisions")
