"""City templates and plain-language explanations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rdflib.compare import isomorphic

from policies import (
    Consent,
    Decision,
    PolicyType,
    compile_policy,
    evaluate,
    parse_policy,
    to_compact,
)
from policies.explain import explain_policy, explain_report
from policies.templates import (
    TEMPLATES,
    commercial_monthly_fee,
    personal_data_with_consent,
    research_non_commercial,
    time_limited_pilot,
)
from policies.turtle import from_turtle, to_graph, to_turtle

from .helpers import AGORA, CITY, TARGET, constraint, doc, perm, request, world

PILOT_START = datetime(2026, 1, 1, tzinfo=UTC)
PILOT_END = datetime(2026, 6, 30, tzinfo=UTC)


def kwargs(name: str) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "uid": f"urn:agora:offer:{name}",
        "assigner": CITY,
        "target": TARGET,
        "entity_types": ["AirQualityObserved"],
    }
    if name == "commercial-monthly-fee":
        kw.update(amount="99.50", monthly_requests=1000)
    if name == "personal-data-consent":
        kw.update(purpose="https://w3id.org/dpv#ServiceProvision")
    if name == "time-limited-pilot":
        kw.update(start=PILOT_START, end=PILOT_END, area=[-1.2, 37.9, -1.0, 38.1])
    return kw


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_are_valid_offers_that_round_trip(name: str) -> None:
    p = TEMPLATES[name](**kwargs(name))
    assert p.type is PolicyType.OFFER
    for style in ("dsp", "odrl"):
        assert parse_policy(to_compact(p, style)) == p  # type: ignore[arg-type]
    assert isomorphic(to_graph(from_turtle(to_turtle(p))), to_graph(p))
    assert explain_policy(p).startswith("Offer urn:agora:offer:")


AQ = {"ngsi-ld:entityType": ["AirQualityObserved"]}


def test_research_template_behaviour() -> None:
    p = research_non_commercial("urn:o", CITY, TARGET, credential_type="ResearchCredential")
    creds = [{"type": ["VerifiableCredential", "ResearchCredential"]}]
    research = {"purpose": "https://w3id.org/dpv#AcademicResearch"}
    assert evaluate(p, request(), world(values=research, claims=creds)).permitted
    assert not evaluate(p, request(), world(values=research)).permitted
    ads = {"purpose": "https://w3id.org/dpv#Advertising"}
    assert not evaluate(p, request(), world(values=ads, claims=creds)).permitted
    assert evaluate(p, request("sell"), world()).decision is Decision.DENY


def test_commercial_template_behaviour() -> None:
    p = commercial_monthly_fee("urn:o", CITY, TARGET, amount="250", monthly_requests=2)
    rep = evaluate(p, request(), world())
    assert rep.decision is Decision.DENY  # the fee is owed before use
    assert "compensate" in explain_report(rep)
    paid = world(fulfilled=["permission[0].duty[0]"])
    assert evaluate(p, request(), paid).permitted
    assert compile_policy(p).counters[0].window == "perMonth"
    assert "pay 250 EUR" in explain_policy(p)


def test_consent_template_behaviour() -> None:
    purpose = "https://w3id.org/dpv#ServiceProvision"
    p = personal_data_with_consent("urn:o", CITY, TARGET, purpose=purpose, retention="P30D")
    w = world(values={"purpose": purpose}, consents=[Consent(purpose)], agreement_start=PILOT_START)
    assert not evaluate(p, request(), w).permitted  # 30 days after start: deletion overdue
    w = world(
        now=PILOT_START + timedelta(days=5),
        values={"purpose": purpose},
        consents=[Consent(purpose)],
        agreement_start=PILOT_START,
    )
    rep = evaluate(p, request(), w)
    assert rep.permitted
    assert rep.pending_duties[0].action == "delete"
    assert rep.pending_duties[0].deadline == PILOT_START + timedelta(days=30)
    assert "delete" in explain_report(rep)
    assert not evaluate(p, request(), world(values={"purpose": purpose})).permitted
    assert evaluate(p, request("distribute"), w).decision is Decision.DENY


def test_pilot_template_behaviour() -> None:
    p = time_limited_pilot("urn:o", CITY, TARGET, start=PILOT_START, end=PILOT_END)
    assert evaluate(p, request(), world(now=datetime(2026, 3, 1, tzinfo=UTC))).permitted
    assert not evaluate(p, request(), world(now=datetime(2026, 7, 1, tzinfo=UTC))).permitted
    n = compile_policy(p).narrowing_for("use")
    assert n is not None and n.not_before == PILOT_START and n.not_after == PILOT_END
    assert "delete the data by 30 July 2026" in explain_policy(p)


def test_denial_explanations() -> None:
    body = doc(
        [
            perm(
                constraint(
                    "odrl:count", "lteq", 1000, **{"odrl:unit": {"@id": AGORA + "perMonth"}}
                ),
                action="odrl:read",
            )
        ]
    )
    p = parse_policy(body)
    key = "permission[0].constraint[0]"
    w = world(usage={key: 1000}, usage_updated={key: datetime(2026, 11, 3, tzinfo=UTC)})
    rep = evaluate(p, request("read"), w)
    assert explain_report(rep, w) == (
        "denied — this agreement allows 1,000 reads per month and 1,000 were used by 3 November"
    )
    dated = parse_policy(doc([perm(constraint("dateTime", "lteq", "2026-01-31T00:00:00Z"))]))
    text = explain_report(evaluate(dated, request(), world()))
    assert text == (
        "denied — the date and time must be at most 31 January 2026; it is 15 March 2026 12:00 UTC"
    )
    assert explain_report(evaluate(dated, request("sell"), world())).startswith("not applicable")
    assert explain_report(evaluate(dated, request(), world(now=PILOT_START))) == "permitted"
    prohibited = parse_policy(
        doc(
            [perm()],
            prohibition=[{"action": "odrl:distribute"}],
            **{"odrl:conflict": {"@id": "odrl:prohibit"}},
        )
    )
    assert "prohibited" in explain_report(evaluate(prohibited, request("distribute"), world()))


def test_explain_policy_covers_rules() -> None:
    p = parse_policy(
        doc(
            [
                perm(
                    {
                        "or": [
                            constraint("purpose", "eq", "research"),
                            constraint("spatial", "eq", "ES"),
                        ]
                    },
                    duty=[{"action": "odrl:inform"}],
                )
            ],
            prohibition=[{"action": "odrl:distribute", "odrl:remedy": [{"action": "odrl:delete"}]}],
            obligation=[
                {"action": "odrl:attribute", "odrl:consequence": [{"action": "odrl:inform"}]}
            ],
            **{"odrl:conflict": {"@id": "odrl:perm"}},
        )
    )
    text = explain_policy(p)
    assert "You may use the data if either the declared purpose is research or" in text
    assert "You may not distribute the data." in text
    assert "If you do, you must delete the data." in text
    assert "Otherwise you must inform the provider." in text
    assert "the permission wins" in text


def test_compiled_explain_text() -> None:
    c = compile_policy(parse_policy(doc([perm(constraint("purpose", "eq", "research"))])))
    text = c.explain_text(request(), world(values={"purpose": "ads"}))
    assert text == "denied — the declared purpose must be research; it is ads"
