"""The trust layer's tables (created by migration 0005_trust).

Holder side: received credentials and the replay cache. Authority side: status lists, membership
requests, members and what was issued to whom (so a revocation finds every bit to flip).
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

#: VC-JWTs issued to this participant, as received on its DCP storage endpoint.
credentials = Table(
    "trust_credentials",
    metadata,
    Column("id", String(300), primary_key=True),  # the credential's id (urn:uuid:…)
    Column("type", String(100), nullable=False),  # the Agora type, e.g. MembershipCredential
    Column("issuer", Text, nullable=False),
    Column("status", Text, nullable=False),  # JSON list of credentialStatus entries
    Column("valid_until", Float, nullable=True),
    Column("jwt", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

#: Issuance requests this participant made (its holderPid is the id): its Credential Service
#: stores a delivered credential only against a pending request for that issuer and type.
#: Created by migration 0013_trust_issuance_requests.
issuance_requests = Table(
    "trust_issuance_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("issuer", String(500), nullable=False),
    Column("credential_types", Text, nullable=False),  # JSON list of type names
    Column("state", String(20), nullable=False),  # pending | fulfilled | cancelled
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index("ix_trust_issuance_requests_issuer_state", "issuer", "state"),
)

#: Seen (issuer, jti) pairs of ID tokens; the primary key makes a replay fail on INSERT, on
#: every replica that shares the database.
replay = Table(
    "trust_replay",
    metadata,
    Column("key", String(64), primary_key=True),  # SHA-256 hex of "<iss>|<jti>"
    Column("expires_at", Float, nullable=False, index=True),
)

#: Authority: Bitstring Status Lists (identity.StatusListIssuer.to_json()).
status_lists = Table(
    "trust_status_lists",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("purpose", String(20), nullable=False),
    Column("data", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

#: Authority: membership requests as received, and what became of them.
membership_requests = Table(
    "trust_membership_requests",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("did", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("state", String(20), nullable=False),  # see connector.trust.authority.STATES
    Column("detail", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
)

#: Authority: the participant registry.
members = Table(
    "trust_members",
    metadata,
    Column("did", String(500), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("dsp_endpoint", Text, nullable=True),
    Column("state", String(20), nullable=False),  # active | suspended | revoked
    Column("request_id", String(64), nullable=False),
    Column("joined_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

#: Authority: every credential it issued with its status list position.
issued = Table(
    "trust_issued",
    metadata,
    Column("id", String(300), primary_key=True),
    Column("subject", String(500), nullable=False, index=True),
    Column("type", String(100), nullable=False),
    Column("list_id", String(100), nullable=False),
    Column("list_index", Integer, nullable=False),
    Column("revoked", Boolean, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
)
