"""Answers of the ledger routes (``/api/v1/ledger/…``), for the OpenAPI document.

Shaped like Certificate Transparency (RFC 9162 §5) by :mod:`ledger.api`; snake_case as there.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connector.http.routes import View

HEX = r"^[0-9a-f]*$"


class TreeHeadView(View):
    """A signed tree head: the log's size and root, signed by the participant's key."""

    size: int
    root: str = Field(pattern=HEX, description="SHA-256 Merkle root, hex")
    timestamp: int = Field(description="milliseconds since the epoch")
    signature: str = Field(pattern=HEX)
    kid: str = Field(description="the DID URL of the signing key")


class EntryView(View):
    index: int
    leaf_hash: str = Field(pattern=HEX)
    record: dict[str, Any] | None = Field(description="null if the stored bytes are not JSON")
    data_hex: str | None = Field(default=None, description="the stored bytes, if not JSON")


class RecordsView(View):
    """Records of one agreement (``agreement``) or of a range (``start``)."""

    agreement: str | None = None
    start: int | None = None
    records: list[EntryView]


class InclusionProofView(View):
    index: int
    size: int
    hashes: list[str]


class ConsistencyProofView(View):
    first: int
    second: int
    hashes: list[str]


class AnchorView(View):
    size: int
    root: str
    timestamp: int
    log_id: str
    chain_id: int | None
    contract: str | None
    tx_hash: str | None
    block_number: int | None


class ScheduleView(View):
    every_records: int | None
    every_seconds: float | None
    last_error: str | None


class AnchorsView(View):
    log_id: str
    anchors: list[AnchorView]
    chain: str = Field(description="embedded (in-process, unreachable to auditors) | json-rpc")
    contract: str | None = None
    chain_id: int | None = None
    schedule: ScheduleView | None = None


class ReceiptsView(View):
    agreement: str
    receipts: list[dict[str, Any]] = Field(
        description="receipts kept: issued as provider, countersigned as consumer"
    )


class RecordsQuery(BaseModel):
    agreement: str | None = Field(default=None, description="every record of this agreement")
    start: int | None = Field(default=None, ge=0, description="or a range: first index")
    end: int | None = Field(default=None, ge=0, description="and the index after the last")


class AgreementQuery(BaseModel):
    agreement: str


class InclusionQuery(BaseModel):
    index: int = Field(ge=0)
    size: int = Field(ge=0, description="the tree size the proof is for")


class ConsistencyQuery(BaseModel):
    first: int = Field(ge=0)
    second: int = Field(ge=0)
