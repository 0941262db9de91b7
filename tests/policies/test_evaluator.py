"""Rules, logical constraints, conflicts, refinements, duties and inheritance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from policies import Decision, PolicyError, compile_policy, evaluate, parse_policy
from policies.inherit import resolve
from policies.model import Policy
from policies.report import Activation, DutyState, Satisfaction

from .helpers import CONSUMER, NOW, START, TARGET, constraint, doc, perm, request, world

PERMIT, DENY, NA = Decision.PERMIT, Decision.DENY, Decision.NOT_APPLICABLE
GOLD = constraint("purpose", "eq", "gold")
SILVER = constraint("purpose", "eq", "silver")
UNKNOWN = constraint("https://example.org/unknown", "eq", "x")


def check(policy: Policy, expected: Decision, req: Any = None, **w: Any) -> Any:
    req = req or request()
    wo = world(**w)
    rep = evaluate(policy, req, wo)
    verdict = compile_policy(policy).decide(req, wo)
    assert rep.decision is expected, rep.reasons
    assert verdict.decision is expected, verdict.reason
    return rep


@pytest.mark.parametrize(
    ("logical", "purpose", "expected"),
    [
        ({"and": [GOLD, SILVER]}, "gold", DENY),
        ({"or": [GOLD, SILVER]}, "silver", PERMIT),
        ({"or": [GOLD, SILVER]}, "bronze", DENY),
        (
            {"xone": [GOLD, constraint("spatial", "eq", "ES")]},
            "gold",
            PERMIT,
        ),  # spatial missing → error
        (
            {"xone": [GOLD, constraint("purpose", "isAnyOf", ["gold", "x"])]},
            "gold",
            DENY,
        ),  # two hold
        ({"xone": [GOLD, SILVER]}, "silver", PERMIT),
        ({"andSequence": [GOLD, constraint("purpose", "neq", "x")]}, "gold", PERMIT),
        ({"or": [UNKNOWN, GOLD]}, "gold", PERMIT),  # one satisfied suffices despite the unknown
        ({"or": [UNKNOWN, SILVER]}, "gold", DENY),  # unknown never satisfies
        ({"and": [UNKNOWN, GOLD]}, "gold", DENY),
        ({"or": [{"and": [GOLD, constraint("language", "eq", "es")]}, SILVER]}, "gold", PERMIT),
    ],
)
def test_logical_constraints(logical: dict[str, Any], purpose: str, expected: Decision) -> None:
    values = {"purpose": purpose, "language": "es"}
    if "xone" in logical and logical["xone"][1].get("leftOperand") == "spatial":
        values["spatial"] = "FR"
    check(parse_policy(doc([perm(logical)])), expected, values=values)


def test_xone_with_an_unknown_member_is_an_error_not_a_pass() -> None:
    p = parse_policy(doc([perm({"xone": [GOLD, UNKNOWN]})]))
    rep = check(p, DENY, values={"purpose": "gold"})
    assert rep.rules[0].constraints[0].state is Satisfaction.ERROR


def test_action_hierarchy_and_not_applicable() -> None:
    p = parse_policy(doc([perm(action="odrl:read")]))
    check(p, PERMIT, request("read"))
    check(p, NA, request("use"))  # asking for more than read is not covered
    check(p, NA, request("distribute"))
    use = parse_policy(doc([perm()]))
    check(use, PERMIT, request("read"))
    check(use, PERMIT, request("odrl:stream"))  # stream ⊂ play ⊂ use
    check(use, NA, request("sell"))  # sell ⊂ transfer, not use
    check(use, NA, request("urn:custom:action"))


def test_target_and_assignee_must_match() -> None:
    p = parse_policy(doc([perm()]))
    check(p, NA, request(target="urn:other"))
    check(p, NA, request(assignee="did:web:stranger"))
    check(p, NA, request(target=None))
    check(p, PERMIT, request(target="urn:entity:1", target_part_of=[TARGET]))
    check(p, PERMIT, request(assignee="did:web:someone", assignee_member_of=[CONSUMER]))


def test_offer_without_target_or_assignee_applies_to_its_asset() -> None:
    body = doc([perm()], **{"@type": "Offer"})
    for key in ("target", "assignee"):
        body.pop(key)
    p = parse_policy(body)
    check(p, PERMIT, request(target="urn:whatever", assignee=None))


PROHIBIT_DISTRIBUTE = [{"action": "odrl:distribute"}]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("perm", PERMIT), ("prohibit", DENY), ("invalid", DENY), (None, DENY)],
)
def test_conflict_strategies(strategy: str | None, expected: Decision) -> None:
    extra = {"odrl:conflict": {"@id": "odrl:" + strategy}} if strategy else {}
    p = parse_policy(doc([perm()], prohibition=PROHIBIT_DISTRIBUTE, **extra))
    rep = check(p, expected, request("distribute"))
    check(p, PERMIT, request("read"))  # no conflict for other actions
    if strategy in (None, "invalid"):
        assert "conflict" in rep.reasons[0]


def test_prohibition_with_constraints_and_remedy() -> None:
    p = parse_policy(
        doc(
            [perm()],
            prohibition=[
                {
                    "action": "use",
                    "constraint": [constraint("purpose", "eq", "marketing")],
                    "odrl:remedy": [{"action": "odrl:delete"}],
                }
            ],
            **{"odrl:conflict": {"@id": "odrl:prohibit"}},
        )
    )
    check(p, PERMIT, values={"purpose": "research"})
    rep = check(p, DENY, values={"purpose": "marketing"})
    prohibition = rep.rules[1]
    assert prohibition.activation is Activation.ACTIVE
    assert prohibition.duties[0].action == "delete"


def test_prohibition_with_unknown_operand_fails_closed() -> None:
    p = parse_policy(
        doc(
            [perm()],
            prohibition=[{"action": "use", "constraint": [UNKNOWN]}],
            **{"odrl:conflict": {"@id": "odrl:prohibit"}},
        )
    )
    check(p, DENY)


def test_only_a_prohibition_applies() -> None:
    p = parse_policy(doc([perm(action="odrl:read")], prohibition=PROHIBIT_DISTRIBUTE))
    check(p, DENY, request("distribute"))


def test_action_refinement() -> None:
    action = {
        "http://www.w3.org/1999/02/22-rdf-syntax-ns#value": {"@id": "odrl:print"},
        "odrl:refinement": [constraint("percentage", "lteq", 50)],
    }
    p = parse_policy(doc([perm(action=action)]))
    check(p, PERMIT, request("print"), values={"percentage": 40})
    rep = check(p, DENY, request("print"), values={"percentage": 60})
    assert rep.rules[0].refinements[0].state is Satisfaction.NOT_SATISFIED


def test_asset_collection_with_refinement() -> None:
    target = {
        "@type": "odrl:AssetCollection",
        "odrl:source": {"@id": TARGET},
        "odrl:refinement": [constraint("ngsi-ld:entityType", "isPartOf", ["AirQualityObserved"])],
    }
    p = parse_policy(doc([perm(target=target)]))
    ok = {"ngsi-ld:entityType": ["AirQualityObserved"]}
    check(p, PERMIT, values=ok)
    check(p, NA, values={"ngsi-ld:entityType": ["Parking"]})
    check(p, NA, request(target="urn:other"), values=ok)
    check(p, PERMIT, request(target="urn:entity:9", target_part_of=[TARGET]), values=ok)


def test_party_collection_with_refinement() -> None:
    assignee = {
        "@id": "urn:agora:researchers",
        "@type": "odrl:PartyCollection",
        "odrl:refinement": [constraint("vc:role", "eq", "researcher")],
    }
    p = parse_policy(doc([perm(assignee=assignee)]))
    researcher = [{"type": ["VerifiableCredential"], "credentialSubject": {"role": "researcher"}}]
    check(p, PERMIT, request(assignee="did:web:anyone"), claims=researcher)
    check(p, NA, request(assignee="did:web:anyone"))
    plain = parse_policy(
        doc([perm(assignee={"@id": "urn:agora:members", "@type": "odrl:PartyCollection"})])
    )
    check(plain, PERMIT, request(assignee="did:web:x", assignee_member_of=["urn:agora:members"]))
    check(plain, NA, request(assignee="did:web:x"))


def duty_policy(*duties: dict[str, Any]) -> Policy:
    return parse_policy(doc([perm(duty=list(duties))]))


def test_delete_duty_with_deadline() -> None:
    p = duty_policy(
        {"action": "odrl:delete", "constraint": [constraint("elapsedTime", "lteq", "P90D")]}
    )
    rep = check(p, PERMIT)
    duty = rep.rules[0].duties[0]
    assert duty.state is DutyState.PENDING and not duty.blocking
    assert duty.deadline == START + timedelta(days=90)
    assert rep.pending_duties[0].key == "permission[0].duty[0]"
    (owed,) = compile_policy(p).decide(request(), world()).pending_duties
    assert owed.key == "permission[0].duty[0]"
    assert owed.action.endswith("delete") and owed.deadline == START + timedelta(days=90)
    later = world(agreement_start=START + timedelta(days=10), now=START + timedelta(days=95))
    assert check(p, PERMIT, **{"agreement_start": later.agreement_start, "now": later.now})
    late = check(p, DENY, now=START + timedelta(days=91))
    assert late.rules[0].duties[0].state is DutyState.VIOLATED
    done = check(p, PERMIT, now=START + timedelta(days=91), fulfilled=["permission[0].duty[0]"])
    assert done.rules[0].duties[0].state is DutyState.FULFILLED


def test_compensate_duty_blocks_until_paid_and_reports_amount() -> None:
    p = duty_policy(
        {
            "@id": "urn:duty:fee",
            "action": {
                "http://www.w3.org/1999/02/22-rdf-syntax-ns#value": {"@id": "odrl:compensate"},
                "odrl:refinement": [
                    constraint(
                        "payAmount",
                        "eq",
                        {"@value": "99.50", "@type": "http://www.w3.org/2001/XMLSchema#decimal"},
                        **{"odrl:unit": {"@id": "http://dbpedia.org/resource/Euro"}},
                    )
                ],
            },
        }
    )
    rep = check(p, DENY)
    duty = rep.rules[0].duties[0]
    assert duty.blocking and duty.state is DutyState.PENDING
    assert str(duty.parameters["payAmount"]) == "99.50"
    assert duty.parameters["unit"] == "http://dbpedia.org/resource/Euro"
    check(p, PERMIT, fulfilled=["urn:duty:fee"])


def test_inform_and_attribute_duties_do_not_block() -> None:
    p = duty_policy({"action": "odrl:inform"}, {"action": "odrl:attribute"})
    rep = check(p, PERMIT)
    assert [d.action for d in rep.pending_duties] == ["inform", "attribute"]


def test_duty_with_condition_is_inactive_until_it_holds() -> None:
    p = duty_policy({"action": "odrl:inform", "constraint": [constraint("event", "eq", "breach")]})
    rep = check(p, PERMIT, values={"event": "none"})
    assert rep.rules[0].duties[0].state is DutyState.INACTIVE
    rep = check(p, PERMIT, values={"event": "breach"})
    assert rep.rules[0].duties[0].state is DutyState.PENDING


def test_obligation_with_consequence() -> None:
    p = parse_policy(
        doc(
            [perm()],
            obligation=[
                {
                    "action": "odrl:compensate",
                    "constraint": [constraint("dateTime", "lteq", "2026-02-01T00:00:00Z")],
                    "odrl:consequence": [{"action": "odrl:inform"}],
                }
            ],
        )
    )
    rep = check(p, PERMIT)  # obligations are reported, they do not gate the permission
    ob = rep.obligations[0]
    assert ob.state is DutyState.VIOLATED
    assert ob.consequences[0].state is DutyState.PENDING
    assert {d.action for d in rep.pending_duties} == {"compensate", "inform"}
    early = check(p, PERMIT, now=START)
    assert early.obligations[0].state is DutyState.PENDING


def parent_policies() -> dict[str, Policy]:
    parent = parse_policy(
        {
            "@context": "https://w3id.org/dspace/2025/1/odrl-profile.jsonld",
            "@type": "Set",
            "@id": "urn:parent",
            "prohibition": [{"action": "odrl:distribute"}],
            "odrl:conflict": {"@id": "odrl:prohibit"},
        }
    )
    return {parent.uid: parent}


def test_inherit_from() -> None:
    child = parse_policy(doc([perm()], **{"odrl:inheritFrom": [{"@id": "urn:parent"}]}))
    merged = resolve(child, parent_policies().get)
    assert merged.inherit_from == ()
    assert len(merged.prohibitions) == 1
    check(merged, DENY, request("distribute"))
    check(merged, PERMIT, request("read"))
    with pytest.raises(PolicyError) as e:
        resolve(child, {}.get)
    assert e.value.path == "$.inheritFrom[0]"


def test_inherit_from_cycle_and_strategy_mix() -> None:
    a = parse_policy(doc([perm()], **{"@id": "urn:a", "odrl:inheritFrom": [{"@id": "urn:b"}]}))
    b = parse_policy(doc([perm()], **{"@id": "urn:b", "odrl:inheritFrom": [{"@id": "urn:a"}]}))
    with pytest.raises(PolicyError, match="cycle"):
        resolve(a, {"urn:a": a, "urn:b": b}.get)
    child = parse_policy(
        doc(
            [perm()],
            **{"odrl:inheritFrom": [{"@id": "urn:parent"}], "odrl:conflict": {"@id": "odrl:perm"}},
        )
    )
    merged = resolve(child, parent_policies().get)
    assert merged.conflict is not None and merged.conflict.value == "invalid"


def test_report_serialises() -> None:
    p = parse_policy(doc([perm(constraint("dateTime", "lteq", "2026-12-31T00:00:00Z"))]))
    rep = evaluate(p, request(), world())
    d = rep.to_dict()
    assert d["decision"] == "permit"
    assert d["rules"][0]["constraints"][0]["state"] == "satisfied"
    assert NOW.year == 2026
