"""Offerings: lifecycle table, versions on edit, terms validated and kept immutable."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from marketplace.errors import LifecycleError, MoneyError, OfferingError
from marketplace.offerings import (
    TRANSITIONS,
    Lifecycle,
    Offering,
    OfferingHistory,
    offering_to_dict,
    parse_offering,
)

from .conftest import PLANS, TERMS, offering_data


def test_round_trip(offering: Offering) -> None:
    assert parse_offering(offering_to_dict(offering)) == offering
    assert [p.plan.kind for p in offering.plans] == [
        "free",
        "one_off",
        "recurring",
        "metered",
        "tiered",
        "tiered",
        "freemium",
    ]


@pytest.mark.parametrize(
    ("start", "to", "ok"),
    [(a, b, b in TRANSITIONS[a]) for a in Lifecycle for b in Lifecycle],
)
def test_lifecycle_follows_the_table(start: Lifecycle, to: Lifecycle, ok: bool) -> None:
    o = parse_offering(offering_data(lifecycle=start))
    if ok:
        assert o.transition(to).lifecycle is to
    else:
        with pytest.raises(LifecycleError) as e:
            o.transition(to)
        assert e.value.field == "lifecycle"
    assert o.lifecycle is start  # the original version is never changed


def test_only_the_documented_moves() -> None:
    moves = {(a, b) for a, bs in TRANSITIONS.items() for b in bs}
    assert moves == {
        (Lifecycle.DRAFT, Lifecycle.PUBLISHED),
        (Lifecycle.PUBLISHED, Lifecycle.RETIRED),
    }


def test_unknown_status_refused() -> None:
    with pytest.raises(LifecycleError):
        parse_offering(offering_data()).transition("launched")


def test_no_publishing_without_plans() -> None:
    draft = parse_offering(offering_data(plans=[]))
    with pytest.raises(LifecycleError) as e:
        draft.transition("published")
    assert e.value.field == "plans"
    with pytest.raises(OfferingError):
        parse_offering(offering_data(plans=[], lifecycle="published"))


def test_draft_edits_in_place_published_edits_make_a_version() -> None:
    history = OfferingHistory.start(parse_offering(offering_data()))
    history = history.edit(name="Air quality (beta)")
    assert [(v.version, v.name) for v in history.versions] == [(1, "Air quality (beta)")]
    history = history.transition("published")
    new_plans = [{"plan": {**PLANS[2], "price": "59"}, "terms": TERMS}]
    history = history.edit(plans=new_plans)
    v1, v2 = history.versions
    assert (v1.version, v1.lifecycle, v2.version, v2.lifecycle) == (
        1,
        Lifecycle.RETIRED,
        2,
        Lifecycle.PUBLISHED,
    )
    # the agreement made under version 1 still finds its price and terms
    assert history.at(1).plan("monthly").plan.price == 49  # type: ignore[union-attr]
    assert history.at(2).plan("monthly").plan.price == 59  # type: ignore[union-attr]
    assert history.current is v2


def test_edit_without_change_makes_no_version(offering: Offering) -> None:
    assert offering.edit(name=offering.name) is offering


def test_retired_cannot_be_edited(offering: Offering) -> None:
    retired = offering.transition("retired")
    with pytest.raises(LifecycleError):
        retired.edit(name="x")


@pytest.mark.parametrize("field", ["id", "version", "lifecycle", "colour"])
def test_only_editable_fields(offering: Offering, field: str) -> None:
    with pytest.raises(LifecycleError) as e:
        offering.edit(**{field: "x"})
    assert e.value.field == field


def test_bad_edit_leaves_the_offering_unchanged(offering: Offering) -> None:
    before = offering_to_dict(offering)
    bad = [{"plan": {**PLANS[2], "price": "-1"}, "terms": TERMS}]
    with pytest.raises(MoneyError) as e:
        offering.edit(plans=bad)
    assert e.value.field == "plans.0.plan.price"
    assert offering_to_dict(offering) == before


def test_terms_cannot_be_changed_through_the_model(offering: Offering) -> None:
    terms = offering.plans[0].policy()
    terms["permission"].clear()
    assert offering.plans[0].policy() == TERMS


def test_terms_as_text_are_checked_too() -> None:
    priced = '{"permission":[{"action":"use","duty":[{"action":"compensate"}]}]}'
    with pytest.raises(OfferingError) as e:
        parse_offering(offering_data(plans=[{"plan": PLANS[2], "terms": priced}]))
    assert e.value.field == "plans.0.terms.permission.0.duty.0.action"
    with pytest.raises(OfferingError):
        parse_offering(offering_data(plans=[{"plan": PLANS[2], "terms": "{not json"}]))


def test_input_terms_are_copied() -> None:
    terms = copy.deepcopy(TERMS)
    o = parse_offering(offering_data(plans=[{"plan": PLANS[0], "terms": terms}]))
    terms["permission"][0]["action"] = "sell"
    assert o.plans[0].policy() == TERMS


PRICED_TERMS: list[tuple[str, dict[str, Any], str]] = [
    (
        "compensate duty",
        {"permission": [{"action": "use", "duty": [{"action": "compensate"}]}]},
        "permission.0.duty.0.action",
    ),
    (
        "payAmount constraint",
        {
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        {"leftOperand": "payAmount", "operator": "eq", "rightOperand": "1"}
                    ],
                }
            ]
        },
        "permission.0.constraint.0.leftOperand",
    ),
    (
        "pricing term",
        {
            "permission": [{"action": "use"}],
            "obligation": [
                {
                    "action": "use",
                    "constraint": [
                        {
                            "leftOperand": "https://w3id.org/agora/pricing#billingPeriod",
                            "operator": "eq",
                            "rightOperand": "P1M",
                        }
                    ],
                }
            ],
        },
        "obligation.0.constraint.0.leftOperand",
    ),
    (
        "odrl IRI compensate",
        {
            "permission": [{"action": "use"}],
            "obligation": [{"action": "http://www.w3.org/ns/odrl/2/compensate"}],
        },
        "obligation.0.action",
    ),
]


@pytest.mark.parametrize(("why", "terms", "field"), PRICED_TERMS, ids=[p[0] for p in PRICED_TERMS])
def test_terms_with_their_own_price_refused(why: str, terms: dict[str, Any], field: str) -> None:
    with pytest.raises(OfferingError) as e:
        parse_offering(offering_data(plans=[{"plan": PLANS[2], "terms": terms}]))
    assert e.value.field == f"plans.0.terms.{field}"


BAD_TERMS: list[tuple[str, Any, str]] = [
    ("target in terms", {**TERMS, "target": "urn:x"}, "plans.0.terms.target"),
    ("assigner in terms", {**TERMS, "assigner": "did:web:x"}, "plans.0.terms.assigner"),
    ("no rule", {"obligation": [{"action": "delete"}]}, "plans.0.terms"),
    ("not an object", ["use"], "plans.0.terms"),
    (
        "unknown operator",
        {
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        {"leftOperand": "purpose", "operator": "approximately", "rightOperand": "x"}
                    ],
                }
            ]
        },
        "plans.0.terms.permission.0.constraint.0.operator",
    ),
    ("malformed ODRL", {"permission": [{"constraint": []}]}, "plans.0.terms"),
]


@pytest.mark.parametrize(("why", "terms", "field"), BAD_TERMS, ids=[b[0] for b in BAD_TERMS])
def test_bad_terms_refused(why: str, terms: Any, field: str) -> None:
    with pytest.raises(OfferingError) as e:
        parse_offering(offering_data(plans=[{"plan": PLANS[0], "terms": terms}]))
    assert e.value.field == field, str(e.value)


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"id": "has space"}, "id"),
        ({"dataset_id": ""}, "dataset_id"),
        ({"name": ""}, "name"),
        ({"version": 0}, "version"),
        (
            {"plans": [{"plan": PLANS[0], "terms": TERMS}, {"plan": PLANS[0], "terms": TERMS}]},
            "plans.1.plan.id",
        ),
        ({"valid_from": "2026-02-01T00:00:00Z", "valid_to": "2026-01-01T00:00:00Z"}, "valid_to"),
        ({"valid_from": "2026-02-01T00:00:00"}, "valid_from"),
        (
            {"plans": [{"plan": {"id": "x", "kind": "one_off", "price": 1.5}, "terms": TERMS}]},
            "plans.0.plan.price",
        ),
        ({"plans": [{"plan": {"id": "x", "kind": "barter"}, "terms": TERMS}]}, "plans.0.plan.kind"),
        ({"plans": [{"plan": PLANS[0]}]}, "plans.0.terms"),
        ({"owner": "me"}, "owner"),
    ],
)
def test_bad_offering_refused(over: dict[str, Any], field: str) -> None:
    with pytest.raises(OfferingError if field != "plans.0.plan.price" else MoneyError) as e:
        parse_offering(offering_data(**over))
    assert e.value.field == field, str(e.value)


def test_history_starts_with_a_draft(offering: Offering) -> None:
    with pytest.raises(LifecycleError):
        OfferingHistory.start(offering)
    with pytest.raises(OfferingError):
        OfferingHistory.start(parse_offering(offering_data())).at(2)


def test_deeply_nested_terms_refused() -> None:
    node: dict[str, Any] = {"leftOperand": "purpose", "operator": "eq", "rightOperand": "x"}
    for _ in range(5000):
        node = {"and": [node]}
    terms = {"permission": [{"action": "use", "constraint": [node]}]}
    with pytest.raises(OfferingError) as e:
        parse_offering(offering_data(plans=[{"plan": PLANS[0], "terms": terms}]))
    assert e.value.reason == "terms nest too deep"


def _quota(n: int, window: str | None = "perMonth") -> dict[str, Any]:
    c: dict[str, Any] = {
        "leftOperand": "count",
        "operator": "lteq",
        "rightOperand": {"@value": str(n), "@type": "xsd:integer"},
    }
    if window:
        c["odrl:unit"] = {"@id": f"https://w3id.org/agora/policy#{window}"}
    return {"permission": [{"action": "use", "constraint": [c]}]}


FREEMIUM = {
    "id": "f",
    "kind": "freemium",
    "unit": "request",
    "free_quota": 100,
    "rate": "0.01",
    "period": "P1M",
}


@pytest.mark.parametrize(
    ("plan", "terms", "refused"),
    [
        (FREEMIUM, _quota(100), True),  # the quota is used up by the free part alone
        (FREEMIUM, _quota(50, None), True),  # over the whole agreement: fewer still
        (FREEMIUM, _quota(101), False),
        (FREEMIUM, _quota(50, "perDay"), False),  # 50 a day can exceed 100 a month
        (
            {"id": "o", "kind": "one_off", "price": "9.00"},
            {"prohibition": [{"action": "use"}]},
            True,
        ),
        ({"id": "z", "kind": "free"}, {"prohibition": [{"action": "distribute"}]}, False),
    ],
)
def test_a_plan_its_terms_contradict_is_refused(
    plan: dict[str, Any], terms: dict[str, Any], refused: bool
) -> None:
    data = offering_data()
    data["plans"] = [{"plan": plan, "terms": terms}]
    if not refused:
        assert parse_offering(data).plans[0].plan.id == plan["id"]
        return
    with pytest.raises(OfferingError) as e:
        parse_offering(data)
    assert e.value.field == "plans.0.terms.permission"
