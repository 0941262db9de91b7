"""JSON-LD in and out: DSP examples, both compact contexts, expanded form, and bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from policies import PolicyError, PolicyType, parse_policy, to_compact, to_expanded
from policies.jsonld import expand_with_pyld, from_expanded
from policies.model import LogicalConstraint
from policies.vocab import ODRL

from .helpers import AGORA, DSP, constraint, doc, perm

EXAMPLES = Path("/work/shared/dsp-2025-1/negotiation/example")
BUNDLED = Path(__file__).parent / "data"


def dsp_policies() -> list[tuple[str, dict[str, Any]]]:
    out = []
    if not EXAMPLES.exists():
        return out
    for f in sorted(EXAMPLES.glob("*.json")):
        d = json.loads(f.read_text())
        for key in ("agreement", "offer"):
            if key in d:
                out.append((f.name, d[key]))
    return out


RICH = doc(
    [
        perm(
            constraint("dateTime", "lteq", "2026-12-31T00:00:00Z"),
            {
                "or": [
                    constraint("purpose", "eq", "research"),
                    {
                        "xone": [
                            constraint("spatial", "eq", "ES"),
                            constraint("spatial", "eq", "PT"),
                        ]
                    },
                ]
            },
            {"odrl:andSequence": {"@list": [constraint("language", "eq", "es")]}},
            constraint("odrl:count", "lteq", 100, **{"odrl:unit": {"@id": AGORA + "perMonth"}}),
            constraint(
                AGORA + "claim",
                "eq",
                "did:web:city.example",
                **{AGORA + "claimPath": "$.credentialSubject.memberOf"},
            ),
            action={
                "http://www.w3.org/1999/02/22-rdf-syntax-ns#value": {"@id": "odrl:read"},
                "odrl:refinement": [constraint("percentage", "lteq", 50)],
            },
            duty=[
                {
                    "action": {
                        "http://www.w3.org/1999/02/22-rdf-syntax-ns#value": {
                            "@id": "odrl:compensate"
                        },
                        "odrl:refinement": [
                            constraint(
                                "odrl:payAmount",
                                "eq",
                                {
                                    "@value": "10.00",
                                    "@type": "http://www.w3.org/2001/XMLSchema#decimal",
                                },
                                **{"odrl:unit": {"@id": "http://dbpedia.org/resource/Euro"}},
                            )
                        ],
                    },
                    "odrl:consequence": [{"action": "odrl:inform"}],
                }
            ],
        ),
        perm(
            constraint("ngsi-ld:entityType", "isPartOf", ["AirQualityObserved", "WeatherObserved"]),
            constraint(
                "ngsi-ld:area",
                "isPartOf",
                {
                    "@value": {
                        "type": "Polygon",
                        "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]],
                    },
                    "@type": "@json",
                },
            ),
            action="odrl:read",
            assignee={
                "@id": "urn:agora:researchers",
                "@type": "odrl:PartyCollection",
                "odrl:refinement": [constraint("vc:role", "eq", "researcher")],
            },
            target={"@id": "urn:agora:sensors", "@type": "odrl:AssetCollection"},
        ),
    ],
    prohibition=[{"action": "odrl:distribute", "odrl:remedy": [{"action": "odrl:delete"}]}],
    obligation=[
        {"action": "odrl:inform", "constraint": [constraint("elapsedTime", "lteq", "P30D")]}
    ],
    **{
        "odrl:conflict": {"@id": "odrl:prohibit"},
        "odrl:inheritFrom": [{"@id": "urn:agora:parent"}],
    },
)


@pytest.mark.parametrize(("name", "body"), dsp_policies())
def test_dsp_examples_parse_and_round_trip(name: str, body: dict[str, Any]) -> None:
    p = parse_policy(body)  # no @context: read with the DSP context, as inside a DSP message
    assert p.type in (PolicyType.AGREEMENT, PolicyType.OFFER)
    assert p.permissions
    for style in ("dsp", "odrl"):
        assert parse_policy(to_compact(p, style)) == p  # type: ignore[arg-type]
    assert parse_policy(to_compact(p, "dsp", embedded=True)) == p
    assert from_expanded([to_expanded(p)]) == p


def test_dsp_bare_odrl_terms_are_read_as_odrl_iris() -> None:
    p = (
        parse_policy(dsp_policies()[0][1])
        if dsp_policies()
        else parse_policy(doc([perm(constraint("dateTime", "lteq", "2023-12-31T06:00Z"))]))
    )
    c = p.permissions[0].constraints[0]
    assert not isinstance(c, LogicalConstraint)
    assert c.left_operand == ODRL + "dateTime"
    assert c.operator == ODRL + "lteq"


def test_rich_policy_round_trips_through_every_form() -> None:
    p = parse_policy(RICH)
    assert p.conflict is not None and p.conflict.value == "prohibit"
    assert p.inherit_from == ("urn:agora:parent",)
    assert p.permissions[0].action.refinements
    assert p.permissions[0].duties[0].consequences
    assert p.permissions[1].assignee is not None and p.permissions[1].assignee.collection
    assert p.permissions[1].target is not None and p.permissions[1].target.collection
    assert p.prohibitions[0].remedies
    for style in ("dsp", "odrl"):
        compact = to_compact(p, style)  # type: ignore[arg-type]
        assert parse_policy(compact) == p, style
        # Our hand-made compaction means the same as what a JSON-LD processor reads.
        assert from_expanded(expand_with_pyld(compact)) == p, style
    assert from_expanded([to_expanded(p)]) == p
    assert from_expanded(expand_with_pyld({"@context": {}, **to_expanded(p)})) == p


def test_fast_path_agrees_with_pyld_on_the_input_document() -> None:
    p_fast = parse_policy(RICH)
    p_slow = from_expanded(expand_with_pyld(RICH))
    assert p_fast == p_slow


def test_inline_context_falls_back_to_pyld() -> None:
    body = doc([perm(constraint("ex:score", "gteq", 3))])
    body["@context"] = [DSP, {"ex": "https://example.org/"}]
    p = parse_policy(body)
    c = p.permissions[0].constraints[0]
    assert isinstance(c, type(p.permissions[0].constraints[0]))
    assert c.left_operand == "https://example.org/score"


def test_odrl_context_errata_are_read_as_meant() -> None:
    body = {
        "@context": "http://www.w3.org/ns/odrl.jsonld",
        "@type": "Set",
        "uid": "urn:x",
        "permission": [{"action": "use", "constraint": [constraint("industry", "neq", "ads")]}],
    }
    for p in (parse_policy(body), from_expanded(expand_with_pyld(body))):
        c = p.permissions[0].constraints[0]
        assert c.operator == ODRL + "neq"
        assert c.left_operand == ODRL + "industry"
    assert '"operator": "odrl:neq"' in json.dumps(to_compact(parse_policy(body), "odrl"))


def test_unknown_remote_context_is_refused_without_network() -> None:
    body = doc([perm()])
    body["@context"] = "https://evil.example/context.jsonld"
    with pytest.raises(PolicyError) as e:
        parse_policy(body)
    assert "unknown remote context" in e.value.reason


def _broken(mutate: Any) -> dict[str, Any]:
    body = copy.deepcopy(doc([perm(constraint("dateTime", "lteq", "2026-12-31T00:00:00Z"))]))
    mutate(body)
    return body


INVALID = [
    (lambda b: b.pop("@id"), "$.@id", "uid"),
    (lambda b: b.update({"@type": "Ticket"}), "$.@type", "unsupported"),
    (lambda b: b.pop("permission"), "$", "at least one"),
    (lambda b: b["permission"][0].pop("action"), "$.permission[0].action", "needs an action"),
    (
        lambda b: b["permission"][0].update(constraints=[]),
        "$.permission[0].constraints",
        "unknown term",
    ),
    (
        lambda b: b["permission"][0]["constraint"][0].pop("operator"),
        "$.permission[0].constraint[0].operator",
        "needs an operator",
    ),
    (
        lambda b: b["permission"][0]["constraint"][0].pop("leftOperand"),
        "$.permission[0].constraint[0].leftOperand",
        "needs a leftOperand",
    ),
    (
        lambda b: b["permission"][0]["constraint"][0].pop("rightOperand"),
        "$.permission[0].constraint[0]",
        "exactly one of rightOperand",
    ),
    (
        lambda b: b["permission"][0]["constraint"][0].update(rightOperand="next tuesday"),
        "$.permission[0].constraint[0].rightOperand",
        "invalid",
    ),
    (
        lambda b: b["permission"][0]["constraint"].append(constraint("elapsedTime", "lteq", "P1X")),
        "$.permission[0].constraint[1].rightOperand",
        "duration",
    ),
    (
        lambda b: b["permission"][0]["constraint"].append(
            constraint(
                "payAmount",
                "gteq",
                {"@value": "ten", "@type": "http://www.w3.org/2001/XMLSchema#decimal"},
            )
        ),
        "$.permission[0].constraint[1].rightOperand",
        "number",
    ),
    (
        lambda b: b["permission"][0]["constraint"].append({"and": []}),
        "$.permission[0].constraint[1].and",
        "needs constraints",
    ),
    (
        lambda b: b["permission"][0]["constraint"].append(
            {"and": [constraint("purpose", "eq", "x")], "or": [constraint("purpose", "eq", "y")]}
        ),
        "$.permission[0].constraint[1]",
        "exactly one operator",
    ),
    (lambda b: b.pop("assignee"), "$.permission[0].assignee", "needs an assignee"),
    (lambda b: b.pop("target"), "$.permission[0].target", "needs a target"),
    (lambda b: b.update({"odrl:conflict": {"@id": "odrl:whatever"}}), "$.conflict", "conflict"),
    (
        lambda b: b.update(
            {
                "prohibition": [
                    {
                        "action": "odrl:print",
                        "odrl:remedy": [
                            {
                                "action": "odrl:delete",
                                "odrl:consequence": [{"action": "odrl:inform"}],
                            }
                        ],
                    }
                ]
            }
        ),
        "$.prohibition[0].remedy[0].consequence",
        "cannot have consequences",
    ),
    (
        lambda b: b["permission"][0].update({"foo:bar": 1}),
        "$.permission[0].foo:bar",
        "unknown prefix",
    ),
    (
        lambda b: b.update({"https://w3id.org/dspace/2025/1/timestamp": "yesterday"}),
        "$.timestamp",
        "not a dateTime",
    ),
]


@pytest.mark.parametrize(("mutate", "path", "reason"), INVALID)
def test_invalid_policies_are_rejected_with_their_path(mutate: Any, path: str, reason: str) -> None:
    with pytest.raises(PolicyError) as e:
        parse_policy(_broken(mutate))
    assert e.value.path == path
    assert reason in e.value.reason


def test_not_json_and_not_an_object() -> None:
    with pytest.raises(PolicyError):
        parse_policy("{nope")
    with pytest.raises(PolicyError):
        parse_policy("[1]")


def test_string_input_and_expanded_input() -> None:
    p = parse_policy(json.dumps(RICH))
    assert parse_policy(json.dumps([to_expanded(p)])) == p


def test_set_and_request_types_and_strict_offer_rules() -> None:
    from policies import validate

    body = {"@context": DSP, "@type": "Set", "@id": "urn:s", "permission": [{"action": "use"}]}
    assert parse_policy(body).type is PolicyType.SET
    untyped = {k: v for k, v in body.items() if k != "@type"}
    assert parse_policy(untyped).type is PolicyType.SET  # Set is the default type
    request = {**body, "@type": "odrl:Request"}
    assert parse_policy(request).type is PolicyType.REQUEST
    offer = parse_policy({**body, "@type": "Offer"})  # DSP offers leave the assigner implicit
    with pytest.raises(PolicyError) as e:
        validate(offer, strict_odrl=True)
    assert e.value.path == "$.permission[0].assigner"


def test_nested_context_goes_through_pyld_with_the_dsp_default() -> None:
    body = doc([perm(constraint("purpose", "eq", "research"))])
    del body["@context"]
    body["permission"][0]["@context"] = {"ex": "https://example.org/"}
    body["permission"][0]["constraint"].append(constraint("ex:level", "gteq", 2))
    p = parse_policy(body)
    left = [c.left_operand for c in p.permissions[0].constraints]
    assert left == [ODRL + "purpose", "https://example.org/level"]
    assert p.timestamp is not None


def test_policy_level_action_applies_to_rules() -> None:
    body = {
        "@context": DSP,
        "@type": "Set",
        "@id": "urn:s",
        "action": "odrl:read",
        "permission": [{"constraint": [constraint("purpose", "eq", "x")]}],
        "prohibition": [{"action": "odrl:distribute"}],
    }
    p = parse_policy(body)
    assert p.permissions[0].action.iri == ODRL + "read"
    assert p.prohibitions[0].action.iri == ODRL + "distribute"


def test_bare_odrl_terms_for_dsp_peers() -> None:
    p = parse_policy(RICH)
    bare = to_compact(p, "dsp", embedded=True, bare_odrl_terms=True)
    text = json.dumps(bare)
    assert '"leftOperand": "dateTime"' in text and '"action": "use"' not in text
    assert parse_policy(bare) == p


def test_pyld_path_refuses_dropped_terms_too() -> None:
    body = doc([perm(constraint("purpose", "eq", "x"))])
    body["@context"] = [DSP, {"ex": "https://example.org/"}]
    body["permission"][0]["constraints"] = body["permission"][0].pop("constraint")
    with pytest.raises(PolicyError) as e:
        parse_policy(body)
    assert "constraints" in e.value.reason
