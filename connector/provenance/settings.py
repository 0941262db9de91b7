"""The `[ledger]` section of agora.toml."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.config import Settings
from connector.errors import ConfigError


class LedgerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: "embedded" runs an in-process chain (eth-tester): anchors live as long as the process.
    #: Anything else is the URL of an Ethereum JSON-RPC node (Besu, geth, ganache).
    chain: str = "embedded"
    contract: str = Field(default="", description="AgoraAnchor address; empty: deploy one")
    private_key_env: str = Field(
        default="", description="env variable with the hex key that signs anchor transactions"
    )
    anchor_every_records: int = Field(default=1000, ge=1)
    anchor_every_seconds: float = Field(default=300.0, gt=0)

    @field_validator("chain")
    @classmethod
    def _chain(cls, v: str) -> str:
        if v != "embedded" and not v.startswith(("http://", "https://")):
            raise ValueError('"embedded" or an http(s):// JSON-RPC URL')
        return v


def ledger_settings(settings: Settings) -> LedgerSettings:
    raw = settings.extra.get("ledger", {})
    try:
        return LedgerSettings.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = "ledger." + ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            str(settings.directory / "agora.toml"),
            key,
            err["msg"].removeprefix("Value error, "),
            err.get("input"),
        ) from None
