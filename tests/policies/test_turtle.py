"""Turtle in and out."""

from __future__ import annotations

import pytest
from rdflib.compare import isomorphic

from policies import PolicyError, parse_policy
from policies.turtle import from_turtle, to_graph, to_turtle

from .test_jsonld import RICH


def test_turtle_round_trip_is_isomorphic() -> None:
    p = parse_policy(RICH)
    text = to_turtle(p)
    assert "odrl:Agreement" in text and "odrl:andSequence" in text
    back = from_turtle(text)
    assert back.uid == p.uid
    assert len(back.permissions) == len(p.permissions)
    assert isomorphic(to_graph(p), to_graph(back))


def test_hand_written_turtle() -> None:
    text = """
    @prefix odrl: <http://www.w3.org/ns/odrl/2/> .
    @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
    <urn:offer:1> a odrl:Offer ;
        odrl:assigner <did:web:city.example> ;
        odrl:target <urn:dataset:1> ;
        odrl:permission [
            odrl:action odrl:read ;
            odrl:constraint [ odrl:leftOperand odrl:dateTime ; odrl:operator odrl:lt ;
                              odrl:rightOperand "2027-01-01T00:00:00Z"^^xsd:dateTime ] ;
            odrl:constraint [ odrl:or ( [ odrl:leftOperand odrl:purpose ; odrl:operator odrl:eq ;
                                          odrl:rightOperand "research" ]
                                        [ odrl:leftOperand odrl:purpose ; odrl:operator odrl:eq ;
                                          odrl:rightOperand "education" ] ) ]
        ] .
    """
    p = from_turtle(text)
    assert p.type.value == "Offer"
    assert len(p.permissions[0].constraints) == 2


def test_bad_turtle_and_missing_policy() -> None:
    with pytest.raises(PolicyError):
        from_turtle("this is not turtle")
    with pytest.raises(PolicyError):
        from_turtle("<urn:a> <urn:b> <urn:c> .")
