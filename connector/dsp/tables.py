"""SQL tables of the DSP control plane (created by migration 0003_dsp; same shapes here).

JSON documents are stored as text so the same schema runs on SQLite and PostgreSQL. Outbox
times are epoch seconds (floats) so leases and back-off compare the same way on both engines.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()


def _decision_columns() -> list[Column[object]]:
    """Operator decisions of a process (0014_dsp_decisions): the choices that apply to it
    (JSON), the decision it waits for, and since when."""
    return [
        Column("decisions", Text, nullable=True),
        Column("pending_decision", String(20), nullable=True),
        Column("pending_since", DateTime(timezone=True), nullable=True),
    ]


datasets = Table(
    "dsp_datasets",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("entity_types", Text, nullable=False),
    Column("attributes", Text, nullable=True),
    Column("area", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # a plain HTTP source instead of the broker, JSON (0018_dsp_http_sources)
    Column("source", Text, nullable=True),
    # open data: the licence (SPDX id or IRI) it is published under (0020_dsp_open_data)
    Column("license", String(500), nullable=True),
)

#: the Agora extensions a peer's DSP catalog advertised (0018_dsp_http_sources), JSON list
peer_extensions = Table(
    "dsp_peer_extensions",
    metadata,
    Column("did", String(500), primary_key=True),
    Column("extensions", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

policies = Table(
    "dsp_policies",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("policy", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

offers = Table(
    "dsp_offers",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("dataset_id", String(300), nullable=False, index=True),
    Column("policy_id", String(300), nullable=False),
    #: "automatic" or "manual" (requests wait for the operator); migration 0010
    Column("approval", String(10), nullable=True),
    #: "bearer" (default) or "dpop": pull tokens bound to the consumer's key; migration 0012
    Column("token_binding", String(10), nullable=True),
    # JSON {decision: "automatic" | "manual"} (0014_dsp_decisions)
    Column("decisions", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

negotiations = Table(
    "dsp_negotiations",
    metadata,
    Column("pid", String(200), primary_key=True),
    Column("role", String(10), nullable=False),
    Column("provider_pid", String(200), nullable=True),
    Column("consumer_pid", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("counterparty_did", Text, nullable=False),
    Column("counterparty_address", Text, nullable=False),
    Column("dataset_id", String(300), nullable=True),
    Column("offer", Text, nullable=True),
    Column("agreement_id", String(300), nullable=True),
    Column("error", Text, nullable=True),
    #: provider, manual approval (migration 0010): the request waits for the operator, with the
    #: requester's verified credentials an agreement on a credential constraint will keep
    Column("awaiting_approval", Boolean, nullable=True),
    Column("consumer_credentials", Text, nullable=True),
    *_decision_columns(),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_dsp_negotiations_role_provider", "role", "provider_pid"),
    Index("ix_dsp_negotiations_role_consumer", "role", "consumer_pid"),
)

agreements = Table(
    "dsp_agreements",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("negotiation_pid", String(200), nullable=False),
    Column("provider_did", Text, nullable=False),
    Column("consumer_did", Text, nullable=False),
    Column("target", String(300), nullable=False),
    Column("agreement", Text, nullable=False),
    Column("signature", Text, nullable=True),
    #: provider side: the consumer's verified credentials (JSON list) when the agreement has
    #: constraints that read them (migration 0009_dsp_agreement_claims); see ``claims``
    Column("consumer_credentials", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

transfers = Table(
    "dsp_transfers",
    metadata,
    Column("pid", String(200), primary_key=True),
    Column("role", String(10), nullable=False),
    Column("provider_pid", String(200), nullable=True),
    Column("consumer_pid", String(200), nullable=True),
    Column("state", String(20), nullable=False),
    Column("agreement_id", String(300), nullable=False),
    Column("format", String(100), nullable=False),
    Column("counterparty_did", Text, nullable=False),
    Column("counterparty_address", Text, nullable=False),
    Column("data_address", Text, nullable=True),
    # consumer: when the token of data_address expires (0014_dsp_decisions)
    Column("edr_expires_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    #: provider, PULL under a DPoP offer: the consumer key's RFC 7638 thumbprint (cnf.jkt)
    #: every access token of this transfer is bound to; migration 0012_dsp_dpop
    Column("dpop_jkt", String(100), nullable=True),
    *_decision_columns(),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_dsp_transfers_role_provider", "role", "provider_pid"),
    Index("ix_dsp_transfers_role_consumer", "role", "consumer_pid"),
)

#: Digests of messages already applied to a process: a retried identical message is an ACK.
received = Table(
    "dsp_received",
    metadata,
    Column("process_pid", String(200), primary_key=True),
    Column("digest", String(64), primary_key=True),
)

outbox = Table(
    "dsp_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("process_pid", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("message_type", String(60), nullable=False),
    Column("url", Text, nullable=False),
    Column("audience_did", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", Float, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_dsp_outbox_due", "status", "next_attempt_at"),
    Index("ix_dsp_outbox_process", "process_pid", "status"),
)
