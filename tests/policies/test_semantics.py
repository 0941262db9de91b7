"""Complete reports, the 2.2 action vocabulary, action-less rules, known violations, refinements.

Written from the ODRL 2.2 Information Model and Vocabulary and the Formal Semantics draft: each
premise of a rule (action, target, party) has a satisfaction state of its own; deprecated actions
are the actions they exactly match; a refinement narrows what is permitted.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies import (
    Decision,
    PolicyError,
    compile_policy,
    evaluate,
    explain_report,
    parse_policy,
    to_compact,
)
from policies.model import Policy
from policies.report import Activation, DutyState, Report, Satisfaction

from .helpers import CONSUMER, TARGET, constraint, doc, perm, request, world

PERMIT, DENY, NA = Decision.PERMIT, Decision.DENY, Decision.NOT_APPLICABLE
SAT, NOT = Satisfaction.SATISFIED, Satisfaction.NOT_SATISFIED
RDF_VALUE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#value"
LOW_RES = constraint("resolution", "lteq", 300)
HIGH_RES = constraint("resolution", "gt", 300)


def decide(policy: Policy, req: Any, **w: Any) -> Report:
    """The reference report, after checking the compiled path reaches the same decision."""
    wo = world(**w)
    rep = evaluate(policy, req, wo)
    assert compile_policy(policy).decide(req, wo).decision is rep.decision
    return rep


def premises(rep: Report, i: int = 0) -> dict[str, Satisfaction]:
    return {p.kind: p.state for p in rep.rules[i].premises}


def test_an_unmatched_action_still_reports_target_party_and_constraints() -> None:
    policy = parse_policy(
        doc([perm(constraint("purpose", "eq", "research"), action="read", assignee=CONSUMER)])
    )
    rep = decide(
        policy,
        request("sell", target="urn:other", assignee="did:web:other"),
        values={"purpose": "research"},
    )
    assert rep.decision is NA
    assert premises(rep) == {"action": NOT, "target": NOT, "assignee": NOT}
    assert [c.state for c in rep.rules[0].constraints] == [SAT]


def test_an_unmatched_target_keeps_the_party_state() -> None:
    rep = decide(parse_policy(doc([perm(action="read")])), request("read", target="urn:other"))
    assert premises(rep) == {"action": SAT, "target": NOT, "assignee": SAT}
    assert rep.rules[0].activation is Activation.NOT_APPLICABLE


@pytest.mark.parametrize("deprecated", ["write", "writeTo", "append", "appendTo"])
def test_deprecated_actions_are_their_exact_match(deprecated: str) -> None:
    use = parse_policy(doc([perm(action="use")]))
    assert decide(use, request(deprecated)).decision is PERMIT  # write ≡ modify ⊂ use
    modify = parse_policy(doc([perm(action="modify")]))
    assert decide(modify, request(deprecated)).decision is PERMIT
    written = parse_policy(doc([perm(action=deprecated)]))
    assert decide(written, request("modify")).decision is PERMIT
    read_only = parse_policy(doc([perm(action="read")]))
    assert decide(read_only, request(deprecated)).decision is NA


def test_copy_is_reproduce_and_a_prohibition_on_it_holds() -> None:
    policy = parse_policy(doc([perm(action="use")], prohibition=[{"action": "copy"}]))
    rep = decide(policy, request("reproduce"))
    assert rep.decision is DENY
    assert decide(policy, request("read")).decision is PERMIT


def test_duty_actions_are_included_in_use_as_the_vocabulary_writes() -> None:
    policy = parse_policy(doc([perm(action="read")], prohibition=[{"action": "use"}]))
    assert decide(policy, request("delete")).decision is DENY
    assert decide(parse_policy(doc([perm(action="use")])), request("sell")).decision is NA


def _set(rule: dict[str, Any], kind: str = "permission") -> dict[str, Any]:
    return {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "uid": "urn:set:1",
        kind: [rule],
    }


def test_a_set_rule_without_action_is_evaluated_and_says_what_is_missing() -> None:
    policy = parse_policy(_set({"target": TARGET}))
    rep = decide(policy, request("print"))
    assert rep.decision is PERMIT
    assert rep.rules[0].missing == ("action",)
    assert premises(rep) == {"target": SAT}
    denied = decide(parse_policy(_set({"target": TARGET}, "prohibition")), request("print"))
    assert denied.decision is DENY


@pytest.mark.parametrize("ptype", ["Offer", "Agreement"])
def test_a_contract_rule_without_action_is_refused(ptype: str) -> None:
    document = doc([{"constraint": [constraint("purpose", "eq", "x")]}])
    document["@type"] = ptype
    with pytest.raises(PolicyError) as err:
        parse_policy(document)
    assert err.value.path == "$.permission[0].action"


def test_a_duty_without_action_is_refused() -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(doc([perm(duty=[{"constraint": [constraint("purpose", "eq", "x")]}])]))
    assert "duty" in err.value.path


def test_a_duty_known_violated_blocks_the_permission() -> None:
    policy = parse_policy(doc([perm(duty=[{"action": "inform"}])]))
    assert decide(policy, request()).decision is PERMIT  # owed after use, not blocking
    rep = decide(policy, request(), violated={"permission[0].duty[0]"})
    assert rep.decision is DENY
    assert rep.rules[0].duties[0].state is DutyState.VIOLATED
    both = decide(
        policy, request(), violated={"permission[0].duty[0]"}, fulfilled={"permission[0].duty[0]"}
    )
    assert both.decision is DENY  # a reported violation is not undone by a claim of fulfilment


def test_an_action_refinement_limits_the_permission_not_its_activation() -> None:
    refined = {RDF_VALUE: {"@id": "odrl:print"}, "odrl:refinement": [LOW_RES]}
    policy = parse_policy(doc([perm(action=refined)]))
    rep = decide(policy, request("print"), values={"resolution": 1200})
    assert rep.decision is DENY
    assert rep.rules[0].activation is Activation.ACTIVE
    assert rep.rules[0].refined is NOT and rep.rules[0].permitted is False
    assert decide(policy, request("print"), values={"resolution": 300}).decision is PERMIT


def test_a_prohibition_refinement_limits_what_is_prohibited() -> None:
    refined = {RDF_VALUE: {"@id": "odrl:print"}, "odrl:refinement": [HIGH_RES]}
    policy = parse_policy(doc([perm(action="use")], prohibition=[{"action": refined}]))
    assert decide(policy, request("print"), values={"resolution": 1200}).decision is DENY
    low = decide(policy, request("print"), values={"resolution": 150})
    assert low.decision is PERMIT
    assert low.rules[1].activation is Activation.ACTIVE


def test_constraint_reports_carry_the_constraint_id() -> None:
    dated = {**constraint("purpose", "eq", "research"), "@id": "urn:c:purpose"}
    rep = decide(parse_policy(doc([perm(dated)])), request(), values={"purpose": "art"})
    assert rep.rules[0].constraints[0].uid == "urn:c:purpose"
    assert rep.rules[0].constraints[0].state is NOT


def test_duties_of_a_rule_that_does_not_apply_are_still_reported() -> None:
    policy = parse_policy(doc([perm(action="read", duty=[{"action": "inform"}])]))
    rep = decide(policy, request("sell"), violated={"permission[0].duty[0]"})
    assert rep.decision is NA
    assert rep.rules[0].duties[0].state is DutyState.VIOLATED
    assert explain_report(rep).startswith("not applicable")


def test_an_action_less_rule_survives_serialisation() -> None:
    policy = parse_policy(_set({"target": TARGET}))
    again = parse_policy(to_compact(policy, "odrl"))
    assert again.permissions[0].action.iri == policy.permissions[0].action.iri
    assert "action" not in to_compact(policy, "odrl")["permission"][0]
