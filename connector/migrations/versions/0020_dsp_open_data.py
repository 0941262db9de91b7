"""Open data: a dataset's licence (``dsp_datasets.license``).

Revision ID: 0020_dsp_open_data
Revises: 0018_dsp_http_sources (the DSP branch)

A dataset with a licence is open data: the catalog shows ``dct:license`` and a free offer on
it is agreed by click-through (connector.dsp.catalog.offer_choices).
"""

import sqlalchemy as sa
from alembic import op

revision = "0020_dsp_open_data"
down_revision = "0018_dsp_http_sources"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dsp_datasets", sa.Column("license", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsp_datasets") as batch:
        batch.drop_column("license")
