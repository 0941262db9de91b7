"""Every registered left operand, through the reference evaluator and the compiled path."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from policies import Consent, Decision, EvaluationRequest, World, compile_policy, evaluate
from policies.model import Policy
from policies.operands import json_path
from policies.report import Satisfaction

from .helpers import AGORA, NOW, START, constraint, policy_with, request, world


def both(policy: Policy, w: World, req: EvaluationRequest | None = None) -> Decision:
    req = req or request()
    ref = evaluate(policy, req, w).decision
    fast = compile_policy(policy).decide(req, w).decision
    assert ref is fast
    return ref


PERMIT, DENY = Decision.PERMIT, Decision.DENY

VALUE_OPERANDS = [
    ("purpose", "isAnyOf", ["research", "education"], "research", "marketing"),
    ("spatial", "eq", "ES", "ES", "FR"),
    ("recipient", "eq", "did:web:lab", "did:web:lab", "did:web:other"),
    (
        "payAmount",
        "gteq",
        {"@value": "10.00", "@type": "http://www.w3.org/2001/XMLSchema#decimal"},
        12.5,
        9,
    ),
    ("event", "eq", "https://example.org/festival", "https://example.org/festival", "x"),
    ("industry", "isNoneOf", ["advertising"], "mobility", "advertising"),
    ("percentage", "lteq", 50, 25, 75),
    ("fileFormat", "isAnyOf", ["application/json", "text/csv"], "text/csv", "image/png"),
    ("language", "eq", "es", "es", "en"),
    ("deliveryChannel", "eq", "api", "api", "email"),
    ("systemDevice", "neq", "kiosk", "server", "kiosk"),
    ("version", "eq", "2.1", "2.1", "2.0"),
    ("virtualLocation", "isPartOf", ["eu-west", "eu-south"], "eu-west", "us-east"),
    ("absolutePosition", "eq", "first", "first", "last"),
    ("absoluteSize", "lteq", 1000, 10, 5000),
    ("resolution", "lteq", 100, 50, 200),
    ("product", "eq", "dashboard", "dashboard", "app"),
    (
        "ngsi-ld:entityType",
        "isPartOf",
        ["AirQualityObserved", "WeatherObserved"],
        ["AirQualityObserved"],
        ["AirQualityObserved", "TrafficFlowObserved"],
    ),
    ("ngsi-ld:attribute", "isPartOf", ["NO2", "PM10"], ["NO2"], ["NO2", "address"]),
]


@pytest.mark.parametrize(("left", "op", "right", "good", "bad"), VALUE_OPERANDS)
def test_value_operand(left: str, op: str, right: Any, good: Any, bad: Any) -> None:
    p = policy_with(constraint(left, op, right))
    assert both(p, world(values={left: good})) is PERMIT
    assert both(p, world(values={left: bad})) is DENY
    # No value in the world: never passes silently.
    assert both(p, world()) is DENY
    rep = evaluate(p, request(), world())
    assert rep.rules[0].constraints[0].state is Satisfaction.ERROR
    assert "does not state" in rep.rules[0].constraints[0].reason


def test_date_time_and_elapsed_time() -> None:
    p = policy_with(
        constraint("dateTime", "gteq", "2026-01-01T00:00:00Z"),
        constraint("elapsedTime", "lteq", "P3M"),
    )
    assert both(p, world(now=START + timedelta(days=60))) is PERMIT
    assert both(p, world(now=START - timedelta(days=1))) is DENY
    assert both(p, world(now=START + timedelta(days=92))) is DENY  # 1 Jan + 3 months = 1 Apr
    # The caller may state the agreement start (e.g. when the agreement has no timestamp).
    assert (
        both(p, world(now=START + timedelta(days=92), agreement_start=START + timedelta(days=10)))
        is PERMIT
    )


def test_elapsed_time_without_start_fails_closed() -> None:
    p = policy_with(
        constraint("elapsedTime", "lteq", "P3M"),
        **{"https://w3id.org/dspace/2025/1/timestamp": None},
    )
    assert p.timestamp is None
    assert both(p, world()) is DENY
    rep = evaluate(p, request(), world())
    assert "agreement start" in rep.reasons[0]


def test_count_uses_the_prospective_count() -> None:
    p = policy_with(constraint("odrl:count", "lteq", 3))
    key = "permission[0].constraint[0]"
    assert both(p, world(usage={key: 2})) is PERMIT
    assert both(p, world(usage={key: 3})) is DENY
    assert both(p, world()) is PERMIT
    assert compile_policy(p).counters[0].limit == 3


def test_area_operand() -> None:
    city = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    p = policy_with(constraint("ngsi-ld:area", "isPartOf", {"@value": city, "@type": "@json"}))
    assert both(p, world(values={"ngsi-ld:area": [1, 1, 2, 2]})) is PERMIT
    assert (
        both(p, world(values={"ngsi-ld:area": {"type": "Point", "coordinates": [20, 20]}})) is DENY
    )
    assert both(p, world(values={"ngsi-ld:area": "not an area"})) is DENY
    bbox = policy_with(constraint("ngsi-ld:area", "isPartOf", "0,0,10,10"))
    assert both(bbox, world(values={"ngsi-ld:area": [1, 1, 2, 2]})) is PERMIT


VC_MEMBER = {
    "type": ["VerifiableCredential", "MembershipCredential"],
    "credentialSubject": {
        "id": "did:web:consumer.example",
        "role": ["researcher"],
        "memberOf": "did:web:city.example",
        "address": {"country": "ES"},
    },
}


def test_credential_operands() -> None:
    cases = [
        (constraint("vc:type", "eq", "MembershipCredential"), PERMIT),
        (
            constraint("vc:type", "isAllOf", ["MembershipCredential", "VerifiableCredential"]),
            PERMIT,
        ),
        (constraint("vc:type", "eq", "LegalPersonCredential"), DENY),
        (constraint("vc:role", "isAnyOf", ["researcher", "operator"]), PERMIT),
        (constraint("vc:role", "eq", "admin"), DENY),
        (
            constraint(
                "vc:claim",
                "eq",
                "did:web:city.example",
                **{AGORA + "claimPath": "$.credentialSubject.memberOf"},
            ),
            PERMIT,
        ),
        (
            constraint(
                "vc:claim",
                "eq",
                "PT",
                **{AGORA + "claimPath": "$.credentialSubject.address.country"},
            ),
            DENY,
        ),
        (constraint("vc:claim", "eq", "x"), DENY),  # no claimPath: error, fail closed
    ]
    for c, expected in cases:
        assert both(policy_with(c), world(claims=[VC_MEMBER])) is expected, c
    # Without credentials nothing passes.
    assert both(policy_with(cases[0][0]), world()) is DENY


def test_consent_operand() -> None:
    purpose = "https://w3id.org/dpv#ServiceProvision"
    p = policy_with(constraint("consent", "eq", {"@id": purpose}))
    valid = Consent(purpose, NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert both(p, world(consents=[valid])) is PERMIT
    assert (
        both(p, world(consents=[Consent(purpose, valid_until=NOW - timedelta(seconds=1))])) is DENY
    )
    assert both(p, world(consents=[Consent(purpose, revoked=True)])) is DENY
    assert both(p, world(consents=[Consent("https://w3id.org/dpv#Marketing")])) is DENY
    vc = {
        "type": ["VerifiableCredential", "ConsentCredential"],
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2026-12-31T00:00:00Z",
        "credentialSubject": {"id": "did:key:z1", "purpose": [purpose]},
    }
    assert both(p, world(consents=Consent.from_credential(vc))) is PERMIT


def test_unknown_left_operand_and_operator_fail_closed() -> None:
    for c in (
        constraint("https://example.org/mood", "eq", "happy"),
        constraint("purpose", "odrl:resembles", "x"),
    ):
        p = policy_with(c)
        assert both(p, world(values={"https://example.org/mood": "happy", "purpose": "x"})) is DENY
        rep = evaluate(p, request(), world(values={"purpose": "x"}))
        assert rep.rules[0].constraints[0].state is Satisfaction.ERROR
        assert "unknown" in rep.reasons[0]


def test_right_operand_reference_is_not_followed() -> None:
    p = policy_with(
        {
            "leftOperand": "purpose",
            "operator": "eq",
            "odrl:rightOperandReference": {"@id": "https://x/p"},
        }
    )
    assert both(p, world(values={"purpose": "https://x/p"})) is DENY


def test_json_path_subset() -> None:
    doc = {"a": [{"b": 1}, {"b": [2, 3]}], "c": {"d": "x"}}
    assert json_path(doc, "$.a[*].b") == [1, 2, 3]
    assert json_path(doc, "$.a.b") == [1, 2, 3]
    assert json_path(doc, "$.a[0].b") == [1]
    assert json_path(doc, "$.c.d") == ["x"]
    assert json_path(doc, "$.nope") == []
    with pytest.raises(ValueError):
        json_path(doc, "a.b")


def test_registering_a_profile_operand() -> None:
    from policies.operands import LeftOperand, register, unregister

    iri = "https://example.org/profile#deadline"
    p = policy_with(constraint(iri, "gteq", "2026-03-01T00:00:00Z"))
    assert both(p, world(values={iri: "2026-03-10T00:00:00Z"})) is DENY  # unknown: fails closed
    register(LeftOperand(iri, "the deadline", "http://www.w3.org/2001/XMLSchema#dateTime"))
    try:
        p = policy_with(constraint(iri, "gteq", "2026-03-01T00:00:00Z"))
        assert both(p, world(values={iri: "2026-03-10T00:00:00Z"})) is PERMIT  # string → dateTime
        assert both(p, world(values={iri: "2026-02-10T00:00:00"})) is DENY
    finally:
        unregister(iri)
