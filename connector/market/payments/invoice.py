"""Invoice: on account, as public bodies pay. Access starts at once; the amount becomes due."""

from __future__ import annotations

from typing import Any

from connector.market.settings import MarketSettings


class Invoice:
    """Customers named in ``[marketplace] invoice_accounts`` may buy on account."""

    name = "invoice"

    def __init__(self, settings: MarketSettings) -> None:
        self.accounts = frozenset(settings.invoice_accounts)
        self.due_days = settings.invoice_due_days
        self.grace_days = settings.invoice_grace_days

    def condition(self, payer_did: str, plan: Any) -> str | None:
        if payer_did in self.accounts:
            return None
        return f"{payer_did} has no invoice account with this provider"
