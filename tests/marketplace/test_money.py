"""Currencies and exact amounts: codes and IRIs, rounding, refusals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from marketplace.errors import CurrencyMismatchError, MoneyError, UnknownCurrencyError
from marketplace.money import Money, currency, currency_iri, parse_amount, round_money


@pytest.mark.parametrize(
    ("given", "code", "minor"),
    [
        ("EUR", "EUR", 2),
        ("http://dbpedia.org/resource/Euro", "EUR", 2),
        ("https://dbpedia.org/resource/Euro", "EUR", 2),
        ("http://dbpedia.org/resource/United_States_dollar", "USD", 2),
        ("JPY", "JPY", 0),
        ("BHD", "BHD", 3),
        ("urn:iso:std:iso:4217:KWD", "KWD", 3),
    ],
)
def test_currency_from_code_or_iri(given: str, code: str, minor: int) -> None:
    c = currency(given)
    assert (c.code, c.minor_units) == (code, minor)


def test_one_iri_per_code_and_it_reads_back() -> None:
    assert currency_iri("EUR") == "http://dbpedia.org/resource/Euro"
    assert currency_iri("KWD") == "urn:iso:std:iso:4217:KWD"
    for code in ("EUR", "USD", "GBP", "PLN", "KWD", "JPY"):
        assert currency(currency_iri(code)).code == code


@pytest.mark.parametrize(
    "bad", ["eur", "EURO", "XAU", "XDR", "DEM", "ZZZ", "", "http://dbpedia.org/resource/Gold", 978]
)
def test_unknown_currency_refused(bad: object) -> None:
    with pytest.raises(UnknownCurrencyError) as e:
        currency(bad)  # type: ignore[arg-type]
    assert e.value.found == bad


@pytest.mark.parametrize(
    ("amount", "code", "rounded"),
    [
        ("0.005", "EUR", "0.01"),  # half-up, where half-even would give 0.00
        ("0.015", "EUR", "0.02"),
        ("0.025", "EUR", "0.03"),  # half-even would give 0.02
        ("0.0049999", "EUR", "0.00"),
        ("2.5", "JPY", "3"),
        ("0.0005", "BHD", "0.001"),
        ("49", "EUR", "49.00"),
    ],
)
def test_round_half_up_to_minor_unit(amount: str, code: str, rounded: str) -> None:
    assert str(round_money(Decimal(amount), currency(code))) == rounded
    assert Money.of(amount, code).text() == rounded


@pytest.mark.parametrize(
    "bad",
    [
        0.1,
        49.0,
        True,
        None,
        "1e3",
        " 1",
        "1,00",
        "+1",
        "NaN",
        "Infinity",
        "-1",
        "01",
        "1.",
        ".5",
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-0.01"),
        "1000000000000",
        "0.00000000001",
    ],
)
def test_malformed_amount_refused(bad: object) -> None:
    with pytest.raises(MoneyError) as e:
        parse_amount(bad, field="price")
    assert e.value.field == "price"
    assert e.value.expected


def test_negative_only_when_asked() -> None:
    assert parse_amount("-1.5", allow_negative=True) == Decimal("-1.5")
    assert str(parse_amount("-0")) == "0"


def test_money_arithmetic_is_exact_and_same_currency() -> None:
    a, b = Money.of("0.10", "EUR"), Money.of("0.20", "EUR")
    assert (a + b).amount == Decimal("0.30")
    assert a.times(3).amount == Decimal("0.30")
    with pytest.raises(CurrencyMismatchError):
        a + Money.of("1", "USD")
