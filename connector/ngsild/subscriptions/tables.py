"""The subscription table. The migration ``0006_ngsild_subs_temporal`` creates the same; keep
both in sync.

A subscription is stored as its validated JSON document (short names plus its own @context,
so it can be rendered back exactly as given) next to the access restriction its creator had and
the delivery counters, which change on every notification and so live in columns.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

subscriptions = Table(
    "ngsild_subscription",
    metadata,
    Column("id", String(2048), primary_key=True),
    Column("doc", Text, nullable=False),
    Column("restriction", Text, nullable=False),
    Column("owner", String(1024), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("modified_at", String(40), nullable=False),
    Column("expires_at", String(40), nullable=True),
    Column("times_sent", Integer, nullable=False, default=0),
    Column("times_failed", Integer, nullable=False, default=0),
    Column("last_notification", String(40), nullable=True),
    Column("last_success", String(40), nullable=True),
    Column("last_failure", String(40), nullable=True),
    Index("ix_ngsild_subscription_owner", "owner", "id"),
)
