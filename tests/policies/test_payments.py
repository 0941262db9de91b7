"""Priced ``compensate`` duties settled by payment events (amount, currency, payer checked).

The price is written as DSP 2025-1 accepts it: action ``compensate`` with a ``payAmount``
constraint, an ``xsd:decimal`` string right operand and a currency IRI as ``unit``.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from policies import Decision, compile_policy, evaluate, explain_policy, parse_policy
from policies.errors import PaymentError
from policies.model import Policy
from policies.money import Payment, currency_code, currency_iri
from policies.report import DutyState

from .helpers import CITY, CONSUMER, NOW, constraint, doc, perm, request, world

EURO = "http://dbpedia.org/resource/Euro"
# The DSP 2025-1 context defines no `unit` term; `odrl:unit` is the same IRI under its prefix.
PRICE = constraint(
    "payAmount", "eq", {"@value": "49.00", "@type": "xsd:decimal"}, **{"odrl:unit": EURO}
)


def priced(**duty: Any) -> Policy:
    return parse_policy(doc([perm(duty=[{"action": "compensate", "constraint": [PRICE], **duty}])]))


def decide(policy: Policy, **w: Any) -> Decision:
    wo = world(**w)
    rep = evaluate(policy, request(), wo)
    assert compile_policy(policy).decide(request(), wo).decision is rep.decision
    return rep.decision


def pay(amount: Any = "49.00", currency: str = "EUR", payer: str = CONSUMER, **kw: Any) -> Payment:
    kw.setdefault("payee", CITY)  # the agreement's assigner is the compensated party
    return Payment(amount=amount, currency=currency, payer=payer, **kw)


def test_without_a_payment_ledger_the_callers_fulfilment_is_used() -> None:
    policy = priced()
    assert decide(policy) is Decision.DENY  # paying is owed before use
    assert decide(policy, fulfilled={"permission[0].duty[0]"}) is Decision.PERMIT


def test_with_a_ledger_fulfilment_is_not_taken_on_trust() -> None:
    assert decide(priced(), payments=[], fulfilled={"permission[0].duty[0]"}) is Decision.DENY


@pytest.mark.parametrize("currency", ["EUR", EURO])
def test_a_matching_payment_settles_the_price(currency: str) -> None:
    assert decide(priced(), payments=[pay(currency=currency)]) is Decision.PERMIT


@pytest.mark.parametrize(
    "payment",
    [
        pay(amount="48.99"),
        pay(currency="USD"),
        pay(payer="did:web:someone-else.example"),
        pay(duty="permission[0].duty[7]"),
        pay(agreement="urn:agora:agreement:other"),
        pay(at=NOW + timedelta(seconds=1)),
    ],
    ids=["short", "currency", "payer", "other-duty", "other-agreement", "future"],
)
def test_a_payment_that_does_not_match_does_not_settle(payment: Payment) -> None:
    policy = priced()
    rep = evaluate(policy, request(), world(payments=[payment]))
    assert rep.decision is Decision.DENY
    assert rep.rules[0].duties[0].state is DutyState.PENDING
    assert "49.00 EUR is owed" in rep.rules[0].duties[0].reason
    assert decide(policy, payments=[payment]) is Decision.DENY


def test_instalments_add_up_exactly() -> None:
    thirds = [pay("16.33"), pay("16.33"), pay("16.34")]
    assert decide(priced(), payments=thirds) is Decision.PERMIT
    assert decide(priced(), payments=thirds[:2]) is Decision.DENY


def test_the_payee_must_be_the_compensated_party() -> None:
    policy = priced()
    assert decide(policy, payments=[pay(payee="did:web:fraud.example")]) is Decision.DENY
    assert decide(policy, payments=[pay(payee=None)]) is Decision.DENY  # cannot be checked
    assert decide(policy, payments=[pay(payee=CITY)]) is Decision.PERMIT
    other = priced(assigner="did:web:utility.example")  # the duty names its own payee
    assert decide(other, payments=[pay()]) is Decision.DENY
    assert decide(other, payments=[pay(payee="did:web:utility.example")]) is Decision.PERMIT


def test_an_obligation_price_is_reported_paid() -> None:
    policy = parse_policy(
        doc([perm()], obligation=[{"action": "compensate", "constraint": [PRICE]}])
    )
    rep = evaluate(policy, request(), world(payments=[pay(duty="obligation[0]")]))
    assert rep.obligations[0].state is DutyState.FULFILLED
    assert rep.obligations[0].parameters["payAmount"] == Decimal("49.00")
    unpaid = evaluate(policy, request(), world(payments=[]))
    assert unpaid.obligations[0].state is DutyState.PENDING


@pytest.mark.parametrize(
    "bad",
    [
        {"amount": 49.0},
        {"amount": "forty-nine"},
        {"amount": "-1"},
        {"amount": "NaN"},
        {"currency": "EURO"},
        {"currency": 978},
        {"payer": ""},
        {"payee": 7},
        {"at": "2026-03-01"},
    ],
)
def test_malformed_payments_are_refused(bad: dict[str, Any]) -> None:
    fields: dict[str, Any] = {"amount": "49.00", "currency": "EUR", "payer": CONSUMER, **bad}
    with pytest.raises(PaymentError):
        Payment(**fields)


def test_the_world_refuses_what_is_not_a_payment_event() -> None:
    with pytest.raises(PaymentError):
        world(payments=[{"amount": "49.00", "currency": "EUR", "payer": CONSUMER}])


def test_currency_codes_and_iris_map_one_to_one() -> None:
    assert currency_iri("EUR") == EURO and currency_code(EURO) == "EUR"
    assert currency_code("EUR") == "EUR" and currency_code("http://example.org/EUR") is None
    with pytest.raises(PaymentError):
        currency_iri("XXX")


def test_a_duty_falls_on_its_permissions_parties() -> None:
    # No policy-level parties: the permission's assignee pays its assigner.
    document = doc([perm(duty=[{"action": "compensate", "constraint": [PRICE]}])])
    for key in ("assigner", "assignee"):
        document.pop(key)
    document["permission"][0].update(assigner=CITY, assignee=CONSUMER)
    policy = parse_policy(document)
    assert decide(policy, payments=[pay()]) is Decision.PERMIT
    assert decide(policy, payments=[pay(payee="did:web:fraud.example")]) is Decision.DENY


def test_dbpedia_is_read_under_http_and_https() -> None:
    https = "https" + EURO[4:]
    assert currency_code(https) == "EUR"
    assert decide(priced(), payments=[pay(currency=https)]) is Decision.PERMIT


def test_the_price_is_explained_once_and_a_shortfall_says_how_much() -> None:
    policy = priced()
    text = explain_policy(policy)
    assert "pay 49.00 EUR" in text and "amount paid" not in text
    short_paid = compile_policy(policy).explain_text(request(), world(payments=[pay("20.00")]))
    assert short_paid.startswith("denied") and "20.00 paid" in short_paid
