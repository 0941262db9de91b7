"""The `[ledger]` section of agora.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.config import Settings, component_settings


class LedgerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: "embedded" runs an in-process chain (eth-tester): anchors live as long as the process.
    #: Anything else is the URL of an Ethereum JSON-RPC node (Besu, geth, ganache).
    chain: str = "embedded"
    contract: str = Field(default="", description="AgoraAnchor address; empty: deploy one")
    private_key_env: str = Field(
        default="", description="env variable with the hex key that signs anchor transactions"
    )
    #: as the ledger library's own default: every anchor is a chain transaction (gas on a real
    #: chain); a busy data plane logs 1,000 records in about a second
    anchor_every_records: int = Field(default=10_000, ge=1)
    anchor_every_seconds: float = Field(default=300.0, gt=0)
    #: how long a receipt delivery to a peer gathers records before it goes: receipts are
    #: evidence for later audits, nobody waits for them, and one delivery of many records costs
    #: the peers far less than many deliveries of one
    receipts_batch_seconds: float = Field(default=0.5, ge=0, le=60)

    @field_validator("chain")
    @classmethod
    def _chain(cls, v: str) -> str:
        if v != "embedded" and not v.startswith(("http://", "https://")):
            raise ValueError('"embedded" or an http(s):// JSON-RPC URL')
        return v


def ledger_settings(settings: Settings) -> LedgerSettings:
    return component_settings(settings, "ledger", LedgerSettings)
