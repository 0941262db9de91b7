"""Conflict analysis across all states of the world.

From the definitions: a Conflict when a permission can never be exercised without a prohibition
applying; Ambiguous when they meet in some states only; No conflict when they never meet. An
obligation (or a duty) permits its action; an obligation refined to a range prohibits the action
outside it; permissions of both parts of a compound action permit the compound.
"""

from __future__ import annotations

from typing import Any

import pytest

from policies import ConflictStatus, analyze, explain_conflicts, parse_policy
from policies.model import ConflictStrategy, Policy

from .helpers import constraint

ALICE, BOB = "http://example.org/alice", "http://example.org/bob"
X, Y = "http://example.org/x", "http://example.org/y"
C, NC, AMB = ConflictStatus.CONFLICT, ConflictStatus.NO_CONFLICT, ConflictStatus.AMBIGUOUS


def pset(uid: str, **rules: Any) -> Policy:
    return parse_policy(
        {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Set", "uid": uid, **rules}
    )


def rule(action: Any = "read", target: str = X, assignee: Any = ALICE, **kw: Any) -> dict[str, Any]:
    return {"action": action, "target": target, "assignee": assignee, **kw}


def year(left: str, op: str, when: str) -> dict[str, Any]:
    return constraint("dateTime", op, {"@value": when, "@type": "xsd:dateTime"})


def test_same_action_same_asset_is_a_conflict() -> None:
    report = analyze([pset("urn:p", permission=[rule()]), pset("urn:q", prohibition=[rule()])])
    assert report.status is C
    assert report.witnesses[0].permission == "urn:p permission[0]"
    assert report.witnesses[0].prohibitions == ("urn:q prohibition[0]",)


@pytest.mark.parametrize(
    ("perm", "proh", "expected"),
    [
        (rule("read"), rule("use"), C),  # every read is a use
        (rule("use"), rule("read"), AMB),  # a permitted use other than read is not prohibited
        (rule("read"), rule("read", target=Y), NC),
        (rule("read"), rule("read", assignee=BOB), NC),
        (rule("read"), rule("modify"), NC),
        (rule("modify"), rule("write"), C),  # a deprecated action is its exact match
    ],
)
def test_scopes(perm: dict[str, Any], proh: dict[str, Any], expected: ConflictStatus) -> None:
    report = analyze([pset("urn:p", permission=[perm], prohibition=[proh])])
    assert report.status is expected


def test_disjoint_time_windows_do_not_conflict_and_nested_ones_do() -> None:
    in_2025 = [
        year("dateTime", "gteq", "2025-01-01T00:00:00Z"),
        year("dateTime", "lt", "2026-01-01T00:00:00Z"),
    ]
    perm = pset("urn:p", permission=[rule(constraint=in_2025)])
    before = pset(
        "urn:q", prohibition=[rule(constraint=[year("dateTime", "lt", "2025-01-01T00:00:00Z")])]
    )
    assert analyze([perm, before]).status is NC
    until_2027 = pset(
        "urn:q", prohibition=[rule(constraint=[year("dateTime", "lt", "2027-01-01T00:00:00Z")])]
    )
    report = analyze([perm, until_2027])
    assert report.status is C and "1 January 2025" in report.witnesses[0].region
    in_june = pset(
        "urn:q", prohibition=[rule(constraint=[year("dateTime", "gteq", "2025-06-01T00:00:00Z")])]
    )
    partial = analyze([perm, in_june])
    assert partial.status is AMB
    assert partial.witnesses[0].counterexample is not None


def test_or_against_and_is_ambiguous() -> None:
    student = constraint("recipient", "isA", {"@id": "http://example.org/student"})
    employee = constraint("recipient", "isA", {"@id": "http://example.org/employee"})
    perm = pset("urn:p", permission=[rule(constraint=[student]), rule(constraint=[employee])])
    proh = pset("urn:q", prohibition=[rule(constraint=[{"and": [student, employee]}])])
    assert analyze([perm, proh]).status is AMB


def test_an_obligation_permits_its_action() -> None:
    report = analyze([pset("urn:p", obligation=[rule()]), pset("urn:q", prohibition=[rule()])])
    assert report.status is C and "obligation" in report.witnesses[0].note


def test_a_duty_that_is_prohibited_conflicts() -> None:
    duty = {"action": "inform", "target": Y, "assignee": ALICE}
    perm = pset("urn:p", permission=[rule(duty=[duty])])
    proh = pset("urn:q", prohibition=[rule("inform", target=Y)])
    assert analyze([perm, proh]).status is C
    other = pset("urn:q", prohibition=[rule("inform", target=X)])
    assert analyze([perm, other]).status is NC


def test_an_obligation_refined_to_a_range_prohibits_the_rest() -> None:
    def pay(op: str) -> dict[str, Any]:
        amount = constraint("payAmount", op, {"@value": "10.00", "@type": "xsd:decimal"})
        return {"rdf:value": {"@id": "odrl:compensate"}, "refinement": [amount]}

    more = pset("urn:p", permission=[rule(pay("gt"))])
    assert analyze([more, pset("urn:q", obligation=[rule(pay("lt"))])]).status is C
    assert analyze([more, pset("urn:q", obligation=[rule(pay("gt"))])]).status is NC


def test_collections_stand_for_their_members() -> None:
    perm = pset("urn:p", permission=[rule(target="http://example.org/coll")])
    proh = pset("urn:q", prohibition=[rule(target="http://example.org/doc2")])
    part_of = {"http://example.org/doc2": ["http://example.org/coll"]}
    assert analyze([perm, proh], part_of=part_of).status is C
    part_of["http://example.org/doc1"] = ["http://example.org/coll"]
    assert analyze([perm, proh], part_of=part_of).status is AMB
    assert analyze([perm, proh]).status is NC  # unrelated without the membership facts


def test_compound_actions_need_every_part_permitted() -> None:
    rent, sell, both = (f"http://example.org/{a}" for a in ("rent", "sell", "rentsell"))
    perms = [pset("urn:a", permission=[rule(rent)]), pset("urn:b", permission=[rule(sell)])]
    proh = pset("urn:c", prohibition=[rule(both)])
    compound = {both: [rent, sell]}
    assert analyze([*perms, proh], compound_actions=compound).status is C
    assert analyze([perms[0], proh], compound_actions=compound).status is NC


@pytest.mark.parametrize(
    ("strategy", "words"),
    [("perm", "permission prevail"), ("prohibit", "prohibition prevail"), ("invalid", "voids")],
)
def test_the_strategy_decides_the_outcome_not_the_finding(strategy: str, words: str) -> None:
    policies = [pset("urn:p", permission=[rule()]), pset("urn:q", prohibition=[rule()])]
    report = analyze(policies, strategy)
    assert report.status is C and report.strategy is ConflictStrategy(strategy)
    assert words in report.outcome
    text = explain_conflicts(report)
    assert text.startswith("Conflict") and "urn:q prohibition[0]" in text and words in text


def test_the_policy_strategy_is_the_default() -> None:
    p = pset("urn:p", permission=[rule()], prohibition=[rule()], conflict="perm")
    assert analyze([p]).strategy is ConflictStrategy.PERM
    assert explain_conflicts(analyze([pset("urn:p", permission=[rule()])])).startswith(
        "No conflict"
    )


def test_too_many_states_is_undecided_not_no_conflict() -> None:
    facts = [
        constraint("recipient", "isA", {"@id": f"http://example.org/kind{i}"}) for i in range(30)
    ]
    perm = pset("urn:p", permission=[rule(constraint=[{"or": facts[:15]}])])
    proh = pset("urn:q", prohibition=[rule(constraint=[{"and": facts[15:]}])])
    report = analyze([perm, proh])
    assert report.status is ConflictStatus.UNDECIDED
    assert report.notes and "not every state" in report.notes[0]
    assert explain_conflicts(report).startswith("Undecided")


def test_a_refined_party_collection_is_a_condition() -> None:
    adults = {
        "@type": "PartyCollection",
        "refinement": [constraint("https://w3id.org/agora/policy#role", "eq", "adult")],
    }
    perm = pset("urn:p", permission=[rule(assignee=adults)])
    proh = pset("urn:q", prohibition=[rule()])
    assert analyze([perm, proh]).status is AMB  # some adults are not alice
    assert analyze([pset("urn:q", permission=[rule()]), perm]).status is NC


def test_one_operand_compared_with_numbers_and_dates_is_still_analysed() -> None:
    odd = "http://example.org/level"
    perm = pset("urn:p", permission=[rule(constraint=[constraint(odd, "lt", 5)])])
    proh = pset(
        "urn:q",
        prohibition=[
            rule(constraint=[constraint(odd, "gt", {"@value": "2025-01-01", "@type": "xsd:date"})])
        ],
    )
    assert analyze([perm, proh]).status is NC  # no value is both a number below 5 and a date
