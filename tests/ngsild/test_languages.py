"""The q language, type expressions, scopeQ and contexts as pure functions (no server)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.ngsild.context import CORE, SDM_URL, term_map
from connector.ngsild.errors import NgsiError
from connector.ngsild.model import now_iso, parse_entity
from connector.ngsild.query.q import And, Or, Path, Range, Term, compile_q, parse_q, unparse
from connector.ngsild.query.selectors import matches_scope, parse_scope_q, parse_types

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: s not in ("true", "false")
)
scalars = st.one_of(
    st.integers(-(10**6), 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).filter(
        lambda f: not f.is_integer()
    ),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
    st.booleans(),
)
paths = st.builds(
    Path, names, st.lists(names, max_size=2).map(tuple), st.lists(names, max_size=2).map(tuple)
)
terms = st.one_of(
    st.builds(Term, paths),
    st.builds(lambda p: Term(p, "!"), paths),
    st.builds(
        lambda p, op, v: Term(p, op, v),
        paths,
        st.sampled_from(["==", "!=", ">", ">=", "<", "<="]),
        scalars,
    ),
    st.builds(lambda p, a, b: Term(p, "==", Range(a, b)), paths, st.integers(), st.integers()),
    st.builds(
        lambda p, vs: Term(p, "!=", tuple(vs)), paths, st.lists(scalars, min_size=2, max_size=3)
    ),
    st.builds(lambda p, rx: Term(p, "~=", rx), paths, st.sampled_from(["^a.*", "b|c", "(x)+y"])),
)


def _trees(children: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda xs: And(tuple(_flat(xs, And)))),
        st.lists(children, min_size=2, max_size=3).map(lambda xs: Or(tuple(_flat(xs, Or)))),
    )


def _flat(items: list, cls: type) -> list:  # type: ignore[type-arg]
    out = []
    for item in items:
        out.extend(item.items if isinstance(item, cls) else [item])
    return out


trees = st.recursive(terms, _trees, max_leaves=8)


@settings(max_examples=120, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(trees)
def test_q_round_trips(tree: object) -> None:
    text = unparse(tree)  # type: ignore[arg-type]
    assert parse_q(text) == tree


@settings(max_examples=250, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab1.;|()!=<>~"[],: -')), max_size=30))
def test_q_parser_never_crashes(text: str) -> None:
    try:
        tree = parse_q(text)
    except NgsiError as exc:
        assert exc.status == 400 and exc.kind == "BadRequestData"
        return
    predicate = compile_q(tree, CORE.expand, None)
    predicate({"id": "urn:a:1", "type": ["T"]})
    assert parse_q(unparse(tree)) == tree


def test_q_precedence_and_values() -> None:
    assert parse_q("a==1|b==2;c") == Or(
        (Term(Path("a"), "==", 1), And((Term(Path("b"), "==", 2), Term(Path("c")))))
    )
    assert parse_q("a.b.c[d][e]>=2.5") == Term(Path("a", ("b", "c"), ("d", "e")), ">=", 2.5)
    assert parse_q("t>2024-01-01T00:00:00Z").value == "2024-01-01T00:00:00Z"  # type: ignore[union-attr]
    assert parse_q("r==urn:ngsi-ld:X:1").value == "urn:ngsi-ld:X:1"  # type: ignore[union-attr]
    assert parse_q('s=="a;b|c"').value == "a;b|c"  # type: ignore[union-attr]
    assert parse_q("https://example.org/attr>3").path.attr == "https://example.org/attr"  # type: ignore[union-attr]
    for bad in ("", "a==", "a>>1", "(a", "a)", 'a=="x', "a==1..", "a[b", "a b==1", "a~=["):
        with pytest.raises(NgsiError):
            parse_q(bad)


def test_q_evaluation_semantics() -> None:
    doc = parse_entity(
        {
            "id": "urn:a:1",
            "type": "T",
            "n": {"type": "Property", "value": [1, 5, 9], "observedAt": "2024-05-01T00:00:00Z"},
            "s": "hello",
            "c": {"a": {"b": 3}},
            "kind": {"type": "VocabProperty", "vocab": "big"},
        },
        CORE,
        now_iso(),
    )

    def q(text: str) -> bool:
        return compile_q(parse_q(text), CORE.expand, None)(doc)

    assert q("n==5") and q("n>8") and not q("n>9") and q("n==4..6") and not q("n==6..8")
    assert q("n.observedAt>2024-01-01T00:00:00Z") and not q("n.observedAt<2024-01-01")
    assert q("c[a][b]==3") and not q("c[a][x]") and q("c[a]")
    assert q("s~=^hel") and q("s!~=xyz") and not q('s!="hello"') and q("!missing")
    assert q("kind==big") and not q("kind==small")
    assert not q("s>3") and not q('n=="5"')
    hidden = compile_q(parse_q("n==5"), CORE.expand, frozenset())
    assert not hidden(doc)


def test_type_and_scope_expressions() -> None:
    assert parse_types("A,B").__class__.__name__ == "AnyOf"
    assert parse_types("(A;B)|C").__class__.__name__ == "AnyOf"
    for bad in ("", "A,", "(A", "A B", "A)"):
        with pytest.raises(NgsiError):
            parse_types(bad)
    expr = parse_scope_q("/Madrid/+/Parks,/Murcia/#")
    assert matches_scope(expr, ["/Madrid/Centro/Parks"])
    assert matches_scope(expr, ["/Murcia/Norte/Espinardo"])
    assert not matches_scope(expr, ["/Madrid/Centro"])
    assert matches_scope(parse_scope_q("/#"), ["/x"])
    with pytest.raises(NgsiError):
        parse_scope_q("Madrid")


def test_contexts() -> None:
    assert CORE.expand("location") == "https://uri.etsi.org/ngsi-ld/location"
    assert CORE.expand("Foo") == "https://uri.etsi.org/ngsi-ld/default-context/Foo"
    assert CORE.compact("https://uri.etsi.org/ngsi-ld/default-context/Foo") == "Foo"
    sdm = term_map(SDM_URL)
    assert sdm.expand("NO2") == "https://smartdatamodels.org/dataModel.Environment/NO2"
    assert sdm.compact("https://smartdatamodels.org/dataModel.Environment/NO2") == "NO2"
    inline = term_map(
        {"ex": "http://example.org/", "temp": "ex:temperature", "@vocab": "http://v/"}
    )
    assert inline.expand("temp") == "http://example.org/temperature"
    assert inline.expand("ex:x") == "http://example.org/x"
    assert inline.expand("location") == "https://uri.etsi.org/ngsi-ld/location"  # core wins
    # a context only pyld understands (scoped context) still yields its terms
    scoped = term_map(
        {
            "@version": 1.1,
            "ex": "http://example.org/",
            "room": {"@id": "ex:room", "@context": {"size": "ex:size"}},
        }
    )
    assert scoped.expand("room") == "http://example.org/room"
    with pytest.raises(NgsiError) as info:
        term_map("https://example.org/not-bundled.jsonld")
    assert info.value.status == 503
    with pytest.raises(NgsiError):
        term_map([{"ex": "http://example.org/"}, "https://example.org/other.jsonld"])
