"""The ``[marketplace]`` section of agora.toml (the connector side of the marketplace).

* ``invoice_accounts``: DIDs of customers who pay on account (public bodies): their access starts
  at once and the amount becomes due ``invoice_due_days`` later; unpaid past that date plus
  ``invoice_grace_days``, their agreement is suspended until paid.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Settings, component_settings


class MarketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_accounts: list[str] = Field(default_factory=list, max_length=10_000)
    invoice_due_days: int = Field(default=30, ge=0, le=365)
    invoice_grace_days: int = Field(default=0, ge=0, le=365)


def market_settings(settings: Settings) -> MarketSettings:
    return component_settings(settings, "marketplace", MarketSettings)
