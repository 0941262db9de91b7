"""The ``[marketplace]`` section of agora.toml (the connector side of the marketplace).

* ``invoice_accounts``: DIDs of customers who pay on account (public bodies): their access starts
  at once and the amount becomes due ``invoice_due_days`` later; unpaid past that date plus
  ``invoice_grace_days``, their agreement is suspended until paid.
* ``evm_chain``: ``""`` (no EVM payments), ``"embedded"`` (the in-process chain and demo token
  shared by the connectors of one process) or a JSON-RPC URL; ``evm_token`` the ERC-20 address
  (empty with ``embedded``); ``evm_account`` our account, unlocked on the node (the payee of a
  provider, the payer of a consumer; ``embedded:N`` is the embedded chain's account N);
  ``evm_confirmations`` how deep a payment must be; ``evm_currency`` what one token stands for.
  Everyone else pays in advance: the provider finalizes once the payment is verified, and
  terminates the negotiation (``PaymentRequired``) when none came within ``evm_payment_timeout_s``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Settings, component_settings


class MarketSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invoice_accounts: list[str] = Field(default_factory=list, max_length=10_000)
    invoice_due_days: int = Field(default=30, ge=0, le=365)
    invoice_grace_days: int = Field(default=0, ge=0, le=365)
    evm_chain: str = Field(default="", max_length=500)
    evm_token: str = Field(default="", max_length=42)
    evm_account: str = Field(default="", max_length=42)
    evm_confirmations: int = Field(default=1, ge=1, le=1000)
    evm_currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    #: a negotiation held for its prepayment longer than this is terminated (PaymentRequired)
    evm_payment_timeout_s: float = Field(default=3600.0, ge=1.0, le=30 * 86_400)


def market_settings(settings: Settings) -> MarketSettings:
    return component_settings(settings, "marketplace", MarketSettings)
