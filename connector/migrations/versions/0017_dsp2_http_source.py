"""DSP datasets served from a plain HTTP source (a file, a CSV export, a REST endpoint) instead
of the NGSI-LD broker: the source's URL, options and upstream secret, as JSON.

Revision ID: 0017_dsp2_http_source
Revises: 0014_dsp_decisions

Kept in sync with connector/dsp/tables.py (the DSP chain: on merging, make it revise the newest
DSP revision).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017_dsp2_http_source"
down_revision = "0014_dsp_decisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp_datasets") as batch:
        batch.add_column(sa.Column("source", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp_datasets") as batch:
        batch.drop_column("source")
