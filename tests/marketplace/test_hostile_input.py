"""Every reader of outside input, fed each document with one value replaced by something hostile,
either accepts it or raises a MarketplaceError — never a TypeError, KeyError or AttributeError
that the connector would turn into a 500."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from marketplace.errors import MarketplaceError
from marketplace.numbers import dumps, loads
from marketplace.offerings import Offering, offering_to_dict, parse_offering
from marketplace.plans import parse_plan
from marketplace.views.dsp import dsp_offers, plan_from_offer
from marketplace.views.tmf620 import (
    parse_product_offering,
    product_offering,
    product_offering_prices,
)

HOSTILE: list[Any] = [
    None,
    [],
    {},
    [[]],
    [{}],
    {"@id": []},
    1.5,
    -1,
    True,
    "",
    "x" * 300,
    Decimal("NaN"),
    10**30,
]


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, (*prefix, i))


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return copy.deepcopy(value)
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = copy.deepcopy(value)
    return out


def mutations(doc: Any) -> Iterator[Any]:
    for path in paths(doc):
        for value in HOSTILE:
            yield replaced(doc, path, value)


def only_typed_errors(read: Callable[[Any], Any], doc: Any) -> int:
    tried = 0
    for bad in mutations(doc):
        tried += 1
        try:
            read(bad)
        except MarketplaceError:
            pass
    return tried


def test_parse_plan(offering: Offering) -> None:
    for po in offering.plans:
        assert only_typed_errors(parse_plan, po.plan.model_dump(mode="json")) > 10


def test_parse_offering(offering: Offering) -> None:
    data = offering_to_dict(offering)
    data["plans"] = data["plans"][2:5]
    assert only_typed_errors(parse_offering, data) > 100


def test_plan_from_offer(offering: Offering) -> None:
    for offer in dsp_offers(offering)[1:]:
        assert only_typed_errors(lambda o: plan_from_offer(o, tiers=()), offer) > 10


@pytest.mark.parametrize("which", ["monthly", "graduated", "freemium"])
def test_parse_product_offering(offering: Offering, which: str) -> None:
    o = offering.model_copy(update={"plans": (offering.plan(which),)})
    po = loads(dumps(product_offering(o)))
    pops = loads(dumps(product_offering_prices(o)))

    def read_pops(bad: Any) -> Any:
        rows = bad if isinstance(bad, list) else []
        table = {p["id"]: p for p in rows if isinstance(p, dict) and isinstance(p.get("id"), str)}
        return parse_product_offering(po, table)

    assert only_typed_errors(
        lambda bad: parse_product_offering(bad, {p["id"]: p for p in pops}), po
    )
    assert only_typed_errors(read_pops, pops)
