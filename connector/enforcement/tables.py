"""Tables of usage control (created by migration 0007_usage; same shapes here).

The usage counters are ``policies.usage.usage_counters`` (the library owns their shape); the
consumer's record of received data is ours. Times are epoch seconds (floats) so deadlines compare
the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, MetaData, String, Table, Text

from policies.usage import usage_counters

metadata = MetaData()

#: Data this connector (as consumer) received under an agreement, kept until a ``delete`` duty's
#: deadline; then the payload is dropped and ``deleted_at`` set.
received = Table(
    "enforcement_received",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("agreement_id", String(300), nullable=False),
    Column("transfer_id", String(200), nullable=False),
    Column("provider_did", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("entity_ids", Text, nullable=False),
    Column("payload", Text, nullable=True),
    Column("received_at", Float, nullable=False),
    Column("delete_at", Float, nullable=True),
    Column("deleted_at", Float, nullable=True),
)

#: Subscriptions created with a transfer access token: their notifications stay under the
#: agreement (transfer still STARTED, terms still met, counted, recorded).
subscriptions = Table(
    "enforcement_subscriptions",
    metadata,
    Column("subscription_id", String(2048), primary_key=True),
    Column("agreement_id", String(300), nullable=False),
    Column("transfer_id", String(200), nullable=False),
    Column("consumer_did", Text, nullable=False),
    Column("purpose", Text, nullable=True),  # Agora-Purpose declared when subscribing
)

__all__ = ["metadata", "received", "subscriptions", "usage_counters"]
