"""SQL tables of the marketplace component (migrations 0015_market, 0019_market_usage).

Every version of an offering is one row (``id``, ``version``): agreements keep pointing at the
version they were made under. The offering itself is the canonical JSON of
``marketplace.offerings.offering_to_dict`` (text, so both engines store it alike); ``lifecycle``
and ``dataset_id`` are copied out only to be filtered on. A payment row is one compensate event
of the policies' state of the world: the amount received for one agreement, under a reference
that can be used once.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

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

#: metered usage of one agreement in one billing period (migration 0019_market_usage): what a
#: usage-priced plan is rated on, and what TMF635 ``Usage`` shows; billing builds on these rows
usage = Table(
    "market_usage",
    metadata,
    Column("agreement_id", String(300), primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    Column("period_end", DateTime(timezone=True), nullable=False),
    Column("requests", BigInteger, nullable=False),
    Column("entities", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
