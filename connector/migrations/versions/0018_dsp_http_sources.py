"""DSP datasets served from a plain HTTP source (a file, a CSV export, a REST endpoint) instead
of the NGSI-LD broker: the source's URL, options and upstream secret, as JSON. And the Agora
extensions each peer's DSP catalog advertised (honoured like those of its DID document).

Revision ID: 0018_dsp_http_sources
Revises: 0014_dsp_decisions

Kept in sync with connector/dsp/tables.py (the DSP chain: on merging, make it revise the newest
DSP revision).
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_dsp_http_sources"
down_revision = "0014_dsp_decisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsp_datasets") as batch:
        batch.add_column(sa.Column("source", sa.Text, nullable=True))
    op.create_table(
        "dsp_peer_extensions",
        sa.Column("did", sa.String(500), primary_key=True),
        sa.Column("extensions", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dsp_peer_extensions")
    with op.batch_alter_table("dsp_datasets") as batch:
        batch.drop_column("source")
