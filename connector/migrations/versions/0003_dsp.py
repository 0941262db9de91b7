"""DSP control plane: datasets, policies, offers, negotiations, agreements, transfers, outbox.

Revision ID: 0003_dsp
Revises: 0001_runtime
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_dsp"
down_revision = "0001_runtime"
branch_labels = ("dsp",)
depends_on = None


def _ts(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "dsp_datasets",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("entity_types", sa.Text, nullable=False),
        sa.Column("attributes", sa.Text, nullable=True),
        sa.Column("area", sa.Text, nullable=True),
        _ts("created_at"),
    )
    op.create_table(
        "dsp_policies",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("policy", sa.Text, nullable=False),
        _ts("created_at"),
    )
    op.create_table(
        "dsp_offers",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("dataset_id", sa.String(300), nullable=False),
        sa.Column("policy_id", sa.String(300), nullable=False),
        _ts("created_at"),
    )
    op.create_index("ix_dsp_offers_dataset_id", "dsp_offers", ["dataset_id"])
    op.create_table(
        "dsp_negotiations",
        sa.Column("pid", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("provider_pid", sa.String(200), nullable=True),
        sa.Column("consumer_pid", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("counterparty_did", sa.Text, nullable=False),
        sa.Column("counterparty_address", sa.Text, nullable=False),
        sa.Column("dataset_id", sa.String(300), nullable=True),
        sa.Column("offer", sa.Text, nullable=True),
        sa.Column("agreement_id", sa.String(300), nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index(
        "ix_dsp_negotiations_role_provider", "dsp_negotiations", ["role", "provider_pid"]
    )
    op.create_index(
        "ix_dsp_negotiations_role_consumer", "dsp_negotiations", ["role", "consumer_pid"]
    )
    op.create_table(
        "dsp_agreements",
        sa.Column("id", sa.String(300), primary_key=True),
        sa.Column("negotiation_pid", sa.String(200), nullable=False),
        sa.Column("provider_did", sa.Text, nullable=False),
        sa.Column("consumer_did", sa.Text, nullable=False),
        sa.Column("target", sa.String(300), nullable=False),
        sa.Column("agreement", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=True),
        _ts("created_at"),
    )
    op.create_table(
        "dsp_transfers",
        sa.Column("pid", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("provider_pid", sa.String(200), nullable=True),
        sa.Column("consumer_pid", sa.String(200), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("agreement_id", sa.String(300), nullable=False),
        sa.Column("format", sa.String(100), nullable=False),
        sa.Column("counterparty_did", sa.Text, nullable=False),
        sa.Column("counterparty_address", sa.Text, nullable=False),
        sa.Column("data_address", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_index("ix_dsp_transfers_role_provider", "dsp_transfers", ["role", "provider_pid"])
    op.create_index("ix_dsp_transfers_role_consumer", "dsp_transfers", ["role", "consumer_pid"])
    op.create_table(
        "dsp_received",
        sa.Column("process_pid", sa.String(200), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
    )
    op.create_table(
        "dsp_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("process_pid", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("message_type", sa.String(60), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("audience_did", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", sa.Float, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_dsp_outbox_due", "dsp_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_dsp_outbox_process", "dsp_outbox", ["process_pid", "status"])


def downgrade() -> None:
    for name in (
        "dsp_outbox",
        "dsp_received",
        "dsp_transfers",
        "dsp_agreements",
        "dsp_negotiations",
        "dsp_offers",
        "dsp_policies",
        "dsp_datasets",
    ):
        op.drop_table(name)
