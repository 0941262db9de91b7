"""Invoice: on account, as public bodies pay. Access starts at once; each period's amount becomes
due ``invoice_due_days`` after the period starts; an amount unpaid past its due date plus
``invoice_grace_days`` suspends the agreement (the PEP refuses, saying why) until it is paid.

Implemented for the one-off and recurring plans, whose amounts are known in advance (the gross
of :func:`marketplace.rating.rate` for one period). Usage-priced plans (metered, tiered,
freemium) are billed from usage after the period, which is not built yet: their agreements are
never suspended here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from connector.market.settings import MarketSettings
from marketplace.plans import OneOffPlan, RecurringPlan
from marketplace.rating import Usage, rate
from policies.durations import Duration

MAX_PERIODS = 10_000


class Invoice:
    """Customers named in ``[marketplace] invoice_accounts`` may buy on account."""

    name = "invoice"

    def __init__(self, settings: MarketSettings) -> None:
        self.accounts = frozenset(settings.invoice_accounts)
        self.due = timedelta(days=settings.invoice_due_days)
        self.grace = timedelta(days=settings.invoice_grace_days)

    def condition(self, payer_did: str, plan: Any, extensions: frozenset[str]) -> str | None:
        if payer_did in self.accounts:
            return None
        return f"{payer_did} has no invoice account with this provider"


class Prepaid:
    """Everyone without an invoice account pays each period in advance (``evm``)."""

    name = "evm"
    due = timedelta(0)
    grace = timedelta(0)


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime | None
    amount: Decimal
    currency: str


def periods(plan: Any, start: datetime, until: datetime) -> list[Period]:
    """The billed periods of an agreement that started at ``start``, up to ``until``."""
    if isinstance(plan, OneOffPlan):
        charge = rate(plan, Usage(start, start))
        return [Period(start, None, charge.gross, charge.currency)]
    if not isinstance(plan, RecurringPlan):
        return []
    step = Duration.parse(plan.period)
    out: list[Period] = []
    begin = start
    while begin <= until and len(out) < MAX_PERIODS:
        end = step.add_to(begin)
        charge = rate(plan, Usage(begin, end))
        out.append(Period(begin, end, charge.gross, charge.currency))
        begin = end
    return out


@dataclass(frozen=True)
class Account:
    """The invoice account of one agreement at ``now``: what is billed, paid, overdue."""

    periods: list[Period]
    paid: int  # periods covered by payments, oldest first
    overdue: Period | None  # the oldest unpaid period past its due date plus grace

    @property
    def next_unpaid(self) -> Period | None:
        return self.periods[self.paid] if self.paid < len(self.periods) else None


def account(
    method: Invoice | Prepaid, plan: Any, start: datetime, payments: int, now: datetime
) -> Account:
    billed = periods(plan, start, now)
    overdue = None
    for p in billed[payments:]:
        if now > p.start + method.due + method.grace:
            overdue = p
            break
    return Account(billed, min(payments, len(billed)), overdue)


def suspension_reason(method: Invoice | Prepaid, acc: Account) -> str | None:
    p = acc.overdue
    if p is None:
        return None
    if isinstance(method, Prepaid):
        return (
            f"payment pending: {p.amount:f} {p.currency} for the period starting "
            f"{p.start.date().isoformat()} is paid in advance (evm) before use"
        )
    due = p.start + method.due
    return (
        f"suspended for non-payment: {p.amount:f} {p.currency} for the period starting "
        f"{p.start.date().isoformat()} was due {due.date().isoformat()} and is unpaid"
    )
