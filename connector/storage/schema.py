"""Tables the connector runtime itself owns (components keep theirs beside their code)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text

metadata = MetaData()

#: Small facts about this installation: schema owner, first start, the participant profile.
settings_kv = Table(
    "agora_kv",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
