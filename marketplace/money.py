"""Currencies (ISO 4217) and exact money amounts.

Amounts are :class:`~decimal.Decimal` everywhere; a float is refused on input because it cannot hold
a cent exactly. Arithmetic runs in :data:`EXACT`, a context that *traps* inexact results, so the
only place a value is ever rounded is :func:`round_money`.

Rounding rule: **half-up to the currency's minor unit** (2 decimals for EUR, 0 for JPY, 3 for BHD),
applied once per charge line, then once to the discount and once to the VAT. Half-up rather than
half-even because invoices are checked by people with the rule they learnt at school and because
EN 16931 (and the national VAT rules it defers to) round commercial amounts half-up; banker's
rounding removes a statistical bias over many sums, which is not what a single bill line needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    Rounded,
)
from functools import lru_cache
from typing import Any, Final

from iso_4217 import Currency as _Iso

from .errors import CurrencyMismatchError, MoneyError, UnknownCurrencyError

ROUNDING: Final = ROUND_HALF_UP
# 60 digits hold the product of the largest amount and the largest quantity we accept; trapping
# Inexact and Rounded makes any silent rounding in arithmetic a loud error instead of a lost cent.
EXACT: Final = Context(
    prec=60,
    rounding=ROUNDING,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact, Rounded],
)
_ROUNDER: Final = Context(prec=60, rounding=ROUNDING, traps=[InvalidOperation, Overflow])

MAX_AMOUNT: Final = Decimal(10) ** 12  # exclusive; a trillion per price is far beyond any offer
MAX_DECIMALS: Final = 10  # a rate may be 0.0000001 EUR per request; more digits is a typo
_DECIMAL_TEXT: Final = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")

DBPEDIA: Final = "http://dbpedia.org/resource/"
ISO_URN: Final = "urn:iso:std:iso:4217:"
# The currencies the ODRL examples and the DSP world write as DBpedia resources. Any other active
# code maps to its ISO URN, so every code has exactly one IRI.
_DBPEDIA_NAMES: Final[dict[str, str]] = {
    "EUR": "Euro",
    "USD": "United_States_dollar",
    "GBP": "Pound_sterling",
    "CHF": "Swiss_franc",
    "JPY": "Japanese_yen",
    "SEK": "Swedish_krona",
    "NOK": "Norwegian_krone",
    "DKK": "Danish_krone",
    "PLN": "Polish_złoty",
    "CZK": "Czech_koruna",
    "HUF": "Hungarian_forint",
    "RON": "Romanian_leu",
    "BGN": "Bulgarian_lev",
    "ISK": "Icelandic_króna",
    "CAD": "Canadian_dollar",
    "AUD": "Australian_dollar",
    "NZD": "New_Zealand_dollar",
    "CNY": "Renminbi",
    "INR": "Indian_rupee",
    "BRL": "Brazilian_real",
    "MXN": "Mexican_peso",
}
_BY_DBPEDIA: Final = {DBPEDIA + name: code for code, name in _DBPEDIA_NAMES.items()}


_QUANTA: dict[int, Decimal] = {}


@dataclass(frozen=True, slots=True)
class Currency:
    """An active ISO 4217 currency: its code, numeric code and minor unit (decimal places)."""

    code: str
    number: int
    minor_units: int
    name: str

    @property
    def iri(self) -> str:
        """The one IRI Agora writes for this currency (ODRL ``unit`` of ``payAmount``)."""
        name = _DBPEDIA_NAMES.get(self.code)
        return DBPEDIA + name if name else ISO_URN + self.code

    @property
    def quantum(self) -> Decimal:
        """The smallest amount of the currency: 0.01 for EUR, 1 for JPY (made once per minor
        unit: every rounded line asks for it)."""
        found = _QUANTA.get(self.minor_units)
        if found is None:
            found = _QUANTA[self.minor_units] = Decimal(1).scaleb(-self.minor_units)
        return found

    def __str__(self) -> str:
        return self.code


def currency(code_or_iri: str) -> Currency:
    """The currency of an ISO 4217 code (``EUR``) or its IRI (DBpedia resource or ISO URN).

    Only active currencies with a minor unit are accepted: historic codes and units such as gold
    (XAU) or SDR (XDR) cannot be priced to the cent.
    """
    if not isinstance(code_or_iri, str):
        raise UnknownCurrencyError(
            "a currency is an ISO 4217 code or its IRI",
            expected="a string",
            found=code_or_iri,
        )
    return _currency(code_or_iri)


@lru_cache(maxsize=512)
def _currency(text: str) -> Currency:
    code_or_iri = text
    code = _BY_DBPEDIA.get(text) or _BY_DBPEDIA.get(text.replace("https://", "http://", 1))
    if code is None and text.startswith(ISO_URN):
        code = text[len(ISO_URN) :]
    if code is None:
        code = text
    iso = _Iso.__members__.get(code) if re.fullmatch(r"[A-Z]{3}", code) else None
    if iso is None or not iso.entities or iso.subunit_exp is None:
        raise UnknownCurrencyError(
            "not an active ISO 4217 currency",
            expected="a code such as EUR or its IRI",
            found=code_or_iri,
        )
    return Currency(iso.name, int(iso.number or 0), int(iso.subunit_exp), str(iso.value))


def currency_iri(code_or_iri: str) -> str:
    """The IRI of a currency given as code or IRI (both are accepted everywhere)."""
    return currency(code_or_iri).iri


def parse_amount(
    value: Any,
    *,
    field: str = "amount",
    allow_negative: bool = False,
    max_decimals: int = MAX_DECIMALS,
) -> Decimal:
    """An exact amount from a Decimal, an int or a decimal string such as ``"49.00"``.

    Refused: floats (they cannot hold 0.10 exactly), booleans, exponent or padded strings, NaN and
    infinities, more than ``max_decimals`` decimals, magnitudes of :data:`MAX_AMOUNT` or more, and
    negative values unless ``allow_negative``.
    """
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise MoneyError(
            "an amount must be exact",
            field=field,
            expected="a decimal string, an integer or a Decimal",
            found=value,
        )
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise MoneyError(
                "malformed amount", field=field, expected="digits such as 49.00", found=value
            )
        amount = Decimal(value)
    elif isinstance(value, int):
        amount = Decimal(value)
    else:
        amount = value
        if not amount.is_finite():
            raise MoneyError(
                "an amount must be finite", field=field, expected="a number", found=value
            )
    if amount.is_signed() and not allow_negative and amount != 0:
        raise MoneyError("an amount may not be negative", field=field, expected=">= 0", found=value)
    if abs(amount) >= MAX_AMOUNT:
        raise MoneyError(
            "amount out of range", field=field, expected=f"< {MAX_AMOUNT}", found=value
        )
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -max_decimals:
        raise MoneyError(
            "too many decimals", field=field, expected=f"at most {max_decimals}", found=value
        )
    return amount + 0 if amount.is_zero() else amount  # normalise -0 to 0


def round_money(amount: Decimal, cur: Currency) -> Decimal:
    """``amount`` rounded half-up to the currency's minor unit — the only rounding there is."""
    return _ROUNDER.quantize(amount, cur.quantum)  # the context rounds half-up


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in a currency. Construct through :meth:`of`; arithmetic stays exact."""

    amount: Decimal
    currency: Currency

    @classmethod
    def of(cls, amount: Any, cur: str | Currency, *, allow_negative: bool = False) -> Money:
        c = cur if isinstance(cur, Currency) else currency(cur)
        return cls(parse_amount(amount, allow_negative=allow_negative), c)

    def rounded(self) -> Money:
        """This amount rounded half-up to the currency's minor unit."""
        return Money(round_money(self.amount, self.currency), self.currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatchError(
                "amounts of different currencies",
                expected=self.currency.code,
                found=other.currency.code,
            )

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(EXACT.add(self.amount, other.amount), self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(EXACT.subtract(self.amount, other.amount), self.currency)

    def times(self, factor: Decimal | int) -> Money:
        """Exact product (a quantity or a rate); round with :meth:`rounded` when it is a line."""
        return Money(EXACT.multiply(self.amount, Decimal(factor)), self.currency)

    def text(self) -> str:
        """The amount as written on the wire: rounded, fixed-point (``"49.00"``)."""
        return f"{round_money(self.amount, self.currency):f}"

    def __str__(self) -> str:
        return f"{self.text()} {self.currency.code}"
