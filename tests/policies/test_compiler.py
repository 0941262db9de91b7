"""The compiled path: same decisions as the reference evaluator, and the NGSI-LD narrowing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policies import (
    Action,
    ConflictStrategy,
    Constraint,
    Decision,
    Duty,
    EvaluationRequest,
    LogicalConstraint,
    LogicalOperator,
    Permission,
    Policy,
    PolicyType,
    Prohibition,
    World,
    compile_policy,
    evaluate,
    parse_policy,
)
from policies.model import Asset, Party
from policies.values import IRI, Literal
from policies.vocab import AGORA, ENTITY_TYPE, ODRL, XSD

from .helpers import AGORA as AG
from .helpers import CONSUMER, START, TARGET, constraint, doc, perm, request, world

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PURPOSES = ["research", "education", "marketing"]
ROLES = ["researcher", "operator"]


def lit(v: str, dt: str | None = None) -> Literal:
    return Literal(v, dt)


atoms = st.one_of(
    st.builds(
        lambda op, v: Constraint(ODRL + "purpose", ODRL + op, lit(v)),
        st.sampled_from(["eq", "neq", "isA", "gt"]),
        st.sampled_from(PURPOSES),
    ),
    st.builds(
        lambda op, vs: Constraint(ODRL + "purpose", ODRL + op, tuple(lit(v) for v in vs)),
        st.sampled_from(["isAnyOf", "isNoneOf", "isPartOf", "hasPart", "isAllOf", "eq"]),
        st.lists(st.sampled_from(PURPOSES), min_size=2, max_size=3, unique=True),
    ),
    st.builds(
        lambda op, n, dt: Constraint(ODRL + "percentage", ODRL + op, lit(str(n), dt)),
        st.sampled_from(["eq", "neq", "gt", "gteq", "lt", "lteq", "isAnyOf"]),
        st.integers(0, 100),
        st.sampled_from([XSD + "integer", XSD + "decimal", None]),
    ),
    st.builds(
        lambda op, days: Constraint(
            ODRL + "dateTime",
            ODRL + op,
            lit((T0 + timedelta(days=days)).isoformat(), XSD + "dateTime"),
        ),
        st.sampled_from(["gt", "gteq", "lt", "lteq", "eq", "neq"]),
        st.integers(0, 60),
    ),
    st.builds(
        lambda op, d: Constraint(ODRL + "elapsedTime", ODRL + op, lit(d, XSD + "duration")),
        st.sampled_from(["lt", "lteq", "gt", "gteq"]),
        st.sampled_from(["P10D", "P1M", "PT240H", "P1Y"]),
    ),
    st.builds(
        lambda op, n, unit: Constraint(
            ODRL + "count", ODRL + op, lit(str(n), XSD + "integer"), unit=unit
        ),
        st.sampled_from(["lt", "lteq", "gt", "eq"]),
        st.integers(0, 5),
        st.sampled_from([None, AGORA + "perMonth"]),
    ),
    st.builds(
        lambda op, r: Constraint(AGORA + "role", ODRL + op, lit(r)),
        st.sampled_from(["eq", "neq", "isAnyOf"]),
        st.sampled_from(ROLES),
    ),
    st.just(Constraint("https://example.org/unknown", ODRL + "eq", lit("x"))),
    st.just(Constraint(ODRL + "purpose", ODRL + "resembles", lit("x"))),
    st.just(Constraint(ODRL + "purpose", ODRL + "eq", None, right_operand_reference="https://x/r")),
)

constraints = st.recursive(
    atoms,
    lambda inner: st.builds(
        LogicalConstraint,
        st.sampled_from(list(LogicalOperator)),
        st.lists(inner, min_size=1, max_size=3).map(tuple),
    ),
    max_leaves=6,
)

actions = st.sampled_from([ODRL + "use", ODRL + "use", ODRL + "read", ODRL + "distribute"])

deadlines = st.one_of(
    st.builds(
        lambda days: Constraint(
            ODRL + "dateTime",
            ODRL + "lteq",
            lit((T0 + timedelta(days=days)).isoformat(), XSD + "dateTime"),
        ),
        st.integers(0, 60),
    ),
    st.builds(
        lambda d: Constraint(ODRL + "elapsedTime", ODRL + "lt", lit(d, XSD + "duration")),
        st.sampled_from(["P10D", "P1M"]),
    ),
    st.just(Constraint(ODRL + "purpose", ODRL + "eq", lit("research"))),
)

duties = st.builds(
    lambda action, cs, uid: Duty(Action(ODRL + action), constraints=tuple(cs), uid=uid),
    st.sampled_from(["inform", "attribute", "compensate", "delete"]),
    st.lists(deadlines, max_size=2),
    st.sampled_from([None, "urn:duty:1"]),
)

parties = st.one_of(
    st.none(),
    st.none(),
    st.just(Party(CONSUMER)),
    st.just(Party("urn:group", collection=True)),
    st.just(
        Party(
            "urn:role-group",
            collection=True,
            refinements=(Constraint(AGORA + "role", ODRL + "eq", lit("researcher")),),
        )
    ),
)

targets = st.one_of(
    st.none(),
    st.none(),
    st.just(Asset(TARGET)),
    st.just(Asset("urn:other")),
    st.just(
        Asset(
            None,
            collection=True,
            source=TARGET,
            refinements=(Constraint(ODRL + "percentage", ODRL + "lteq", lit("50")),),
        )
    ),
)

permissions = st.builds(
    lambda a, cs, ds, p, t: Permission(
        Action(a), target=t, assignee=p, constraints=tuple(cs), duties=tuple(ds)
    ),
    actions,
    st.lists(constraints, max_size=2),
    st.lists(duties, max_size=2),
    parties,
    targets,
)

prohibitions = st.builds(
    lambda a, cs, p: Prohibition(Action(a), assignee=p, constraints=tuple(cs)),
    actions,
    st.lists(constraints, max_size=2),
    parties,
)

policies = st.builds(
    lambda perms, prohibs, conflict, ts: Policy(
        "urn:p", PolicyType.AGREEMENT, tuple(perms), tuple(prohibs), timestamp=ts, conflict=conflict
    ),
    st.lists(permissions, min_size=1, max_size=3),
    st.lists(prohibitions, max_size=2),
    st.sampled_from([None, *ConflictStrategy]),
    st.sampled_from([None, T0]),
)

values = st.fixed_dictionaries(
    {},
    optional={
        "purpose": st.one_of(
            st.sampled_from(PURPOSES), st.lists(st.sampled_from(PURPOSES), max_size=2)
        ),
        "percentage": st.one_of(
            st.integers(-5, 105), st.decimals(0, 100, places=1), st.just("12"), st.just(True)
        ),
    },
)

worlds = st.builds(
    lambda days, vals, roles, used, fulfilled, start, broader: World(
        now=T0 + timedelta(days=days),
        values=vals,
        claims=[{"type": ["VerifiableCredential"], "credentialSubject": {"role": roles}}],
        usage={"permission[0].constraint[0]": used, "permission[1].constraint[1]": used},
        fulfilled=fulfilled,
        agreement_start=start,
        broader={"research": ["education"]} if broader else None,
    ),
    st.integers(-5, 400),
    values,
    st.lists(st.sampled_from(ROLES), max_size=2),
    st.integers(0, 6),
    st.sampled_from([(), ("urn:duty:1",), ("permission[0].duty[0]",)]),
    st.sampled_from([None, T0 + timedelta(days=3)]),
    st.booleans(),
)

requests = st.builds(
    lambda action, target, party, groups: EvaluationRequest.create(
        action, target=target, assignee=party, assignee_member_of=groups
    ),
    st.sampled_from(["use", "read", "read", "distribute", "sell", "display"]),
    st.sampled_from([TARGET, TARGET, TARGET, "urn:other", None]),
    st.sampled_from([CONSUMER, CONSUMER, CONSUMER, "did:web:stranger", None]),
    st.sampled_from([(), ("urn:group",)]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies, requests, worlds)
def test_compiled_path_agrees_with_reference(
    policy: Policy, req: EvaluationRequest, w: World
) -> None:
    report = evaluate(policy, req, w)
    verdict = compile_policy(policy).decide(req, w)
    assert verdict.decision is report.decision, (report.reasons, verdict.reason)
    if verdict.decision is Decision.PERMIT:
        assert verdict.rule == report.decided_by
        assert verdict.counters == report.counters


def test_narrowing_for_the_data_plane() -> None:
    city = {"type": "Polygon", "coordinates": [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]]}
    p = parse_policy(
        doc(
            [
                perm(
                    constraint(
                        "ngsi-ld:entityType", "isPartOf", ["AirQualityObserved", "WeatherObserved"]
                    ),
                    {
                        "and": [
                            constraint(
                                "ngsi-ld:attribute", "isAnyOf", ["NO2", "PM10", "temperature"]
                            ),
                            constraint("ngsi-ld:attribute", "isPartOf", ["NO2", "PM10"]),
                        ]
                    },
                    constraint("ngsi-ld:area", "isPartOf", {"@value": city, "@type": "@json"}),
                    constraint("dateTime", "lteq", "2026-12-31T00:00:00Z"),
                    constraint("elapsedTime", "lteq", "P6M"),
                    constraint(
                        "odrl:count", "lteq", 1000, **{"odrl:unit": {"@id": AG + "perMonth"}}
                    ),
                    {"or": [constraint("ngsi-ld:entityType", "eq", "Parking")]},  # not a narrowing
                    action="odrl:read",
                ),
                perm(constraint("ngsi-ld:entityType", "eq", "Parking"), action="odrl:read"),
                perm(action="odrl:distribute"),
            ]
        )
    )
    compiled = compile_policy(p)
    first = compiled.narrowings[0]
    assert first.entity_types == {"AirQualityObserved", "WeatherObserved"}
    assert first.attributes == {"NO2", "PM10"}
    assert first.area is not None and first.area["type"] == "Polygon"
    assert first.not_before == START
    assert first.not_after == datetime(2026, 7, 1, tzinfo=UTC)  # start + 6 months < 31 Dec
    assert first.counters[0].limit == 1000 and first.counters[0].window == "perMonth"
    assert first.allows_time(datetime(2026, 3, 1, tzinfo=UTC))
    assert not first.allows_time(datetime(2026, 8, 1, tzinfo=UTC))
    read = compiled.narrowing_for("read")
    assert read is not None
    assert read.entity_types == {"AirQualityObserved", "WeatherObserved", "Parking"}
    assert read.attributes is None  # the Parking permission does not restrict attributes
    assert read.area is None
    assert read.rules == ("$.permission[0]", "$.permission[1]")
    dist = compiled.narrowing_for("distribute")
    assert dist is not None and dist.entity_types is None
    assert compiled.narrowing_for("sell") is None
    assert [c.key for c in compiled.counters] == ["permission[0].constraint[5]"]


def test_verdicts_carry_reasons() -> None:
    p = parse_policy(doc([perm(constraint("purpose", "eq", "research"))]))
    c = compile_policy(p)
    assert (
        c.decide(request(), world(values={"purpose": "research"})).reason
        == "permitted by $.permission[0]"
    )
    denied = c.decide(request(), world(values={"purpose": "ads"}))
    assert not denied.permitted and "no permission" in denied.reason
    assert "purpose" in c.explain(request(), world(values={"purpose": "ads"})).reasons[0]
    assert c.decide(request("sell"), world()).decision is Decision.NOT_APPLICABLE


def test_typed_values_from_strings_are_normalised() -> None:
    p = parse_policy(
        doc(
            [
                perm(
                    constraint(
                        "payAmount",
                        "gteq",
                        {"@value": "10.5", "@type": "http://www.w3.org/2001/XMLSchema#decimal"},
                    )
                )
            ]
        )
    )
    c = compile_policy(p)
    for v, ok in (("10.5", True), (10.4, False), (Decimal("11"), True), ("lots", False)):
        w = world(values={"payAmount": v})
        assert c.decide(request(), w).permitted is ok
        assert evaluate(p, request(), w).permitted is ok
    _ = (IRI, Any)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policies)
def test_random_policies_round_trip_through_json_ld(policy: Policy) -> None:
    from dataclasses import replace

    from policies import from_expanded, to_compact, to_expanded
    from policies.jsonld import expand_with_pyld

    p = replace(policy, type=PolicyType.SET)
    for style in ("dsp", "odrl"):
        compact = to_compact(p, style)  # type: ignore[arg-type]
        assert parse_policy(compact) == p
    assert from_expanded([to_expanded(p)]) == p
    assert from_expanded(expand_with_pyld(to_compact(p, "odrl"))) == p


def test_set_operators_on_multi_valued_operands_agree_with_reference() -> None:
    """Entity types and attributes are multi-valued: the compiled membership fast path, with
    a list of permitted values or a single one."""
    decisions: set[Decision] = set()
    rights: list[Any] = [
        tuple(lit(t) for t in ("AirQualityObserved", "ParkingSpot")),
        lit("AirQualityObserved"),
    ]
    for op, right in ((op, r) for op in ("isPartOf", "isAnyOf", "isNoneOf") for r in rights):
        policy = Policy(
            "urn:p",
            PolicyType.AGREEMENT,
            (
                Permission(
                    Action(ODRL + "read"),
                    constraints=(Constraint(ENTITY_TYPE, ODRL + op, right),),
                ),
            ),
        )
        compiled = compile_policy(policy)
        req = EvaluationRequest.create("read")
        asked: list[Any] = [
            ["AirQualityObserved"],
            ["AirQualityObserved", "ParkingSpot"],
            ["AirQualityObserved", "Building"],
            ["Building"],
            [],
            "ParkingSpot",
        ]
        for value in asked:
            for broader in (None, {"Building": ["ParkingSpot"]}):
                w = World(now=T0, values={"ngsi-ld:entityType": value}, broader=broader)
                expected = evaluate(policy, req, w).decision
                assert compiled.decide(req, w).decision is expected, (op, right, value)
                decisions.add(expected)
    assert decisions == {Decision.PERMIT, Decision.DENY}  # both outcomes were exercised


def test_world_keeps_multi_values_as_tuples() -> None:
    purpose = ODRL + "purpose"
    assert World(values={"purpose": ("a", "b")}).values[purpose] == ("a", "b")
    assert World(values={"purpose": ["a", "b"]}).values[purpose] == ("a", "b")
    assert World(values={"purpose": ("a", ["b"])}).values[purpose] == ("a", ("b",))


# -- clock-free policies: what an enforcement point may reuse a decision for ---------------

DT = {"@value": "2026-06-01T00:00:00Z", "@type": XSD + "dateTime"}


def _clock_free(document: dict[str, Any]) -> bool:
    return compile_policy(parse_policy(document)).clock_free


def test_value_and_count_operands_are_clock_free() -> None:
    assert _clock_free(
        doc([perm(constraint("purpose", "eq", "research"), constraint("count", "lteq", 5))])
    )
    assert _clock_free(doc([perm()]))  # no constraint at all
    assert _clock_free(doc([perm(constraint(AGORA + "noSuchOperand", "eq", "x"))]))


def test_the_clock_or_credentials_anywhere_make_a_policy_depend_on_time() -> None:
    dated = constraint("dateTime", "lt", DT)
    month = {"@value": "P30D", "@type": XSD + "duration"}
    cases = [
        doc([perm(dated)]),
        doc([perm(constraint("elapsedTime", "lteq", month))]),
        doc([perm(constraint(AGORA + "role", "eq", "researcher"))]),
        doc([perm({"and": [constraint("purpose", "eq", "research"), dated]})]),
        doc([perm(duty=[{"action": "delete", "constraint": [dated]}])]),
        doc([perm()], prohibition=[perm(dated)]),
    ]
    for case in cases:
        assert not _clock_free(case), case
    refined = Policy(
        uid="urn:p",
        permissions=(
            Permission(
                action=Action(
                    ODRL + "use",
                    refinements=(Constraint(ODRL + "dateTime", ODRL + "lt", Literal("2026-06")),),
                )
            ),
        ),
    )
    assert not compile_policy(refined).clock_free
