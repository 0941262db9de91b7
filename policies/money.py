"""Prices and payments: what a ``compensate`` duty asks for and the payment events that settle it.

A price is written the way DSP 2025-1 accepts it (an ``obligation`` with action ``compensate`` and
a ``payAmount`` constraint whose right operand is an ``xsd:decimal`` string and whose ``unit`` is a
currency IRI) or the textbook ODRL way (``payAmount`` as a refinement of the ``compensate``
action). Amounts are :class:`~decimal.Decimal`, never floats: 0.1 + 0.2 must be 0.3 on an invoice.

Each ISO 4217 code maps to one IRI (DBpedia's, as the ODRL 2.2 examples write the euro); a unit
may be written as that IRI (``http`` or ``https``) or as the bare code, and is compared by code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import PaymentError

_DBPEDIA = "http://dbpedia.org/resource/"

#: ISO 4217 code -> the one IRI written for it.
CURRENCY_IRIS: dict[str, str] = {
    code: _DBPEDIA + name
    for code, name in {
        "EUR": "Euro",
        "USD": "United_States_dollar",
        "GBP": "Pound_sterling",
        "CHF": "Swiss_franc",
        "JPY": "Japanese_yen",
        "SEK": "Swedish_krona",
        "NOK": "Norwegian_krone",
        "DKK": "Danish_krone",
        "ISK": "Icelandic_kr%C3%B3na",
        "PLN": "Polish_z%C5%82oty",
        "CZK": "Czech_koruna",
        "HUF": "Hungarian_forint",
        "RON": "Romanian_leu",
        "BGN": "Bulgarian_lev",
        "CAD": "Canadian_dollar",
        "AUD": "Australian_dollar",
        "NZD": "New_Zealand_dollar",
        "CNY": "Renminbi",
        "INR": "Indian_rupee",
        "BRL": "Brazilian_real",
    }.items()
}
# DBpedia answers under http and https; both spellings of its IRIs name the same currency.
_CODES = {
    **{iri: code for code, iri in CURRENCY_IRIS.items()},
    **{"https" + iri[4:]: code for code, iri in CURRENCY_IRIS.items()},
}


def currency_code(unit: str) -> str | None:
    """The ISO 4217 code of a unit written as its IRI or as the code itself (None: unknown)."""
    if unit in _CODES:
        return _CODES[unit]
    code = unit.strip()
    return code if code in CURRENCY_IRIS else None


def currency_iri(code: str) -> str:
    """The IRI written for an ISO 4217 code; raises :class:`PaymentError` for an unknown code."""
    try:
        return CURRENCY_IRIS[code]
    except KeyError:
        raise PaymentError(f"unknown ISO 4217 currency code {code!r}") from None


def to_amount(value: Any) -> Decimal:
    """A money amount as a finite Decimal; floats are refused (they cannot hold 0.10 exactly)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise PaymentError(f"an amount must be a decimal string or Decimal, not {value!r}")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise PaymentError(f"{value!r} is not a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise PaymentError(f"an amount must be finite and not negative, not {value!r}")
    return amount


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment event the caller observed (e.g. a settled invoice line of the marketplace).

    ``amount`` is a Decimal (or a decimal string), ``currency`` an ISO 4217 code or its IRI,
    ``payer`` and ``payee`` party identifiers (DIDs or IRIs). ``duty`` names the compensate duty
    it settles (its ``@id`` or path such as ``obligation[0]``; None: any compensate duty of the
    agreement), ``agreement`` the agreement's uid (None: any), ``at`` when it was made (None:
    before now).
    """

    amount: Decimal
    currency: str
    payer: str
    payee: str | None = None
    duty: str | None = None
    agreement: str | None = None
    at: datetime | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", to_amount(self.amount))
        for name in ("payee", "duty", "agreement", "reference"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise PaymentError(f"a payment's {name} must be a string, not {value!r}")
        if not isinstance(self.currency, str):
            raise PaymentError(f"a currency is an ISO 4217 code or its IRI, not {self.currency!r}")
        if self.at is not None and not isinstance(self.at, datetime):
            raise PaymentError(f"a payment's time must be a datetime, not {self.at!r}")
        code = currency_code(self.currency)
        if code is None:
            raise PaymentError(f"unknown currency {self.currency!r} (an ISO 4217 code or its IRI)")
        object.__setattr__(self, "currency", code)
        if not isinstance(self.payer, str) or not self.payer:
            raise PaymentError("a payment needs its payer")
        if self.at is not None and self.at.tzinfo is None:
            object.__setattr__(self, "at", self.at.replace(tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class Price:
    """What a compensate duty asks for: ``operator`` (an ODRL IRI) ``amount`` in ``currency``."""

    operator: str
    amount: Decimal
    currency: str | None  # ISO 4217 code; None when the unit is missing or unknown
    unit: str | None  # the unit as written


def _meets(operator: str, total: Decimal, amount: Decimal) -> bool:
    name = operator.rsplit("/", 1)[-1]
    if name == "eq":
        return total == amount
    if name == "gteq":
        return total >= amount
    if name == "gt":
        return total > amount
    if name == "lteq":
        return total <= amount
    if name == "lt":
        return total < amount
    return False  # neq, set operators …: no amount can be shown to meet them


def settle(
    prices: tuple[Price, ...],
    payments: tuple[Payment, ...],
    *,
    keys: frozenset[str],
    payer: str | None,
    payee: str | None,
    agreement: str | None,
    now: datetime,
) -> tuple[bool, str]:
    """Do the observed ``payments`` meet every price? Returns (paid, reason).

    A payment counts for a duty when its currency is the price's, its payer the compensating
    party (the duty's assignee, else the requesting party), its payee the compensated party (the
    duty's assigner) when one is named, it names this duty (or no duty) and this agreement (or
    none), and it was made by ``now``. The counted amounts are summed (instalments add up) and
    compared with the price's operator.
    """
    if payer is None:
        return False, "no paying party is known, so no payment can be attributed"
    notes: list[str] = []
    for price in prices:
        if price.currency is None:
            return False, f"the price's unit {price.unit!r} is not a known ISO 4217 currency"
        counted = [
            p
            for p in payments
            if p.currency == price.currency
            and p.payer == payer
            and (payee is None or p.payee == payee)
            and (p.duty is None or p.duty in keys)
            and (p.agreement is None or agreement is None or p.agreement == agreement)
            and (p.at is None or p.at <= now)
        ]
        total = sum((p.amount for p in counted), Decimal(0))
        if not counted or not _meets(price.operator, total, price.amount):
            others = len(payments) - len(counted)
            tail = f" ({others} other payment(s) did not match)" if others else ""
            return False, (
                f"{price.amount} {price.currency} is owed by {payer}; {total} paid{tail}"
            )
        notes.append(f"{total} {price.currency} paid by {payer}")
    return True, "; ".join(notes)


__all__ = [
    "CURRENCY_IRIS",
    "Payment",
    "Price",
    "currency_code",
    "currency_iri",
    "settle",
    "to_amount",
]
