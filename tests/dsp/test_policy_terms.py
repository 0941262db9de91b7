"""Writing terms as the docs show them: typed literals, `unit`, the templates over HTTP and CLI."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from connector.cli import main
from policies.jsonld import to_compact
from policies.templates import commercial_monthly_fee
from tests.dsp.helpers import Node

XSD = "http://www.w3.org/2001/XMLSchema#"


def _count(right: Any, **extra: Any) -> dict[str, Any]:
    return {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {"leftOperand": "count", "operator": "lteq", "rightOperand": right, **extra}
                ],
            }
        ]
    }


async def test_numbers_and_unit_are_accepted_as_typed_terms(pair: tuple[Node, Node]) -> None:
    city, _ = pair
    status, body = await city.admin("POST", "/policies", _count(5))
    assert status == 201, body
    stored = body["permission"][0]["constraint"][0]
    assert stored["rightOperand"] == {"@value": "5", "@type": XSD + "integer"}
    status, body = await city.admin("POST", "/policies", _count(5, unit="agora:perDay"))
    assert status == 201, body
    assert body["permission"][0]["constraint"][0]["odrl:unit"] == "agora:perDay"
    # the project's own template, compacted, goes through the API
    fee = to_compact(
        commercial_monthly_fee("urn:p", city.did, "urn:t", amount="49", monthly_requests=9)
    )
    rules = {k: fee[k] for k in ("permission", "profile")}
    status, body = await city.admin("POST", "/policies", rules)
    assert status == 201, body
    # still refused: what is no literal at all
    status, body = await city.admin("POST", "/policies", _count(None))
    assert status == 400
    _, listed = await city.admin("GET", "/policies")
    assert len(listed) == 3


async def test_templates_over_the_management_api(pair: tuple[Node, Node]) -> None:
    city, _ = pair
    status, listed = await city.admin("GET", "/policy-templates")
    assert status == 200
    names = {t["name"] for t in listed}
    assert {"research-non-commercial", "commercial-monthly-fee"} <= names
    fee = next(t for t in listed if t["name"] == "commercial-monthly-fee")
    assert {"name": "amount", "type": "decimal", "required": True} in fee["parameters"]

    status, body = await city.admin(
        "POST",
        "/policy-templates/commercial-monthly-fee",
        {"id": "urn:fee", "parameters": {"amount": "49.00", "monthlyRequests": 100}},
    )
    assert status == 201, body
    assert body["id"] == "urn:fee" and body["permission"][0]["duty"]
    # refusals name the parameter and store nothing
    for name, params, expected in [
        ("commercial-monthly-fee", {}, "amount"),
        ("commercial-monthly-fee", {"amount": "49", "monthlyRequests": "many"}, "monthlyRequests"),
        ("research-non-commercial", {"price": 3}, "price"),
    ]:
        status, body = await city.admin("POST", f"/policy-templates/{name}", {"parameters": params})
        assert status == 400 and expected in body["detail"], body
    status, body = await city.admin("POST", "/policy-templates/nope", {})
    assert status == 404 and "research-non-commercial" in body["detail"]
    _, policies = await city.admin("GET", "/policies")
    assert [p["id"] for p in policies] == ["urn:fee"]


async def _cli(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


async def test_templates_from_the_cli(pair: tuple[Node, Node], tmp_path: Path) -> None:
    city, company = pair
    directory = str(tmp_path / "city")
    listed = await _cli("template", "list", directory, "--url", city.url)
    assert listed.exit_code == 0, listed.output
    assert "research-non-commercial:" in listed.output and "amount" in listed.output
    status, _ = await city.admin(
        "POST",
        "/datasets",
        {"id": "urn:air", "title": "Air", "entityTypes": ["AirQualityObserved"]},
    )
    assert status == 201
    applied = await _cli(
        "template", "apply", directory, "research-non-commercial", "--types", "AirQualityObserved",
        "--id", "urn:research", "--dataset", "urn:air", "--url", city.url,
    )  # fmt: skip
    assert applied.exit_code == 0, applied.output
    assert (
        "Stored policy urn:research" in applied.output
        and "Offered dataset urn:air" in applied.output
    )
    status, catalog = await company.admin(
        "POST", "/catalog/request", {"counterPartyAddress": city.dsp_url}
    )
    assert status == 200 and "AcademicResearch" in str(catalog)  # the template's terms
    bad = await _cli(
        "template", "apply", directory, "commercial-monthly-fee", "--param", "amount=x",
        "--url", city.url,
    )  # fmt: skip
    assert bad.exit_code == 1 and "amount" in bad.output
