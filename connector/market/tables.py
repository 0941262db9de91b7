"""SQL tables of the marketplace component (created by migration 0015_market; same shapes here).

Every version of an offering is one row (``id``, ``version``): agreements keep pointing at the
version they were made under. The offering itself is the canonical JSON of
``marketplace.offerings.offering_to_dict`` (text, so both engines store it alike); ``lifecycle``
and ``dataset_id`` are copied out only to be filtered on. A payment row is one compensate event
of the policies' state of the world: the amount received for one agreement, under a reference
that can be used once.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

offerings = Table(
    "market_offerings",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("lifecycle", String(12), nullable=False),
    Column("dataset_id", String(500), nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_market_offerings_lifecycle", "lifecycle", "dataset_id"),
)

payments = Table(
    "market_payments",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("agreement_id", String(300), nullable=False, index=True),
    Column("method", String(20), nullable=False),
    #: unique: a payment reference (an invoice number, a transaction hash) counts once
    Column("reference", String(300), nullable=False, unique=True),
    Column("amount", String(40), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("payer", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
