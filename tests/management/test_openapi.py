"""The management API's OpenAPI document is generated from the routes themselves: every served
`/api/v1` route is in it, real answers conform to it, and it is served without the admin key.

One data space for the module: an authority (auto-approving), a city and a company.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from connector.management.openapi import doc_path
from tests.management.described import Described, start
from tests.management.fuzz import safe_gets_conform

pytestmark = pytest.mark.asyncio(loop_scope="module")

OPEN_POLICY = {"permission": [{"action": "use"}]}


class Space:
    def __init__(self, authority: Described, city: Described, company: Described) -> None:
        self.authority, self.city, self.company = authority, city, company

    def nodes(self) -> list[Described]:
        return [self.authority, self.city, self.company]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def space(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Space]:
    root = tmp_path_factory.mktemp("openapi")
    async with aiohttp.ClientSession() as http:
        authority = await start(root, "authority", "authority", http, auto_approve=True)
        city = await start(root, "city", "city", http)
        company = await start(root, "company", "company", http)
        try:
            yield Space(authority, city, company)
        finally:
            for node in (company, city, authority):
                await node.connector.stop()


def served_routes(app: web.Application, prefix: str = "") -> set[tuple[str, str]]:
    """Every (method, path) the application serves, walking into its sub-applications."""
    found: set[tuple[str, str]] = set()
    for resource in app.router.resources():
        info = resource.get_info()
        if "app" in info:  # a sub-application under a prefix
            found |= served_routes(info["app"], prefix)
            continue
        for route in resource:
            if route.method not in ("HEAD", "*"):
                found.add((route.method, prefix + doc_path(resource.canonical)))
    return found


async def test_every_served_route_is_in_the_document(space: Space) -> None:
    for node in space.nodes():
        assert node.connector.app is not None
        served = {
            (method, path.removeprefix("/api/v1"))
            for method, path in served_routes(node.connector.app)
            if path.startswith("/api/v1/")
        }
        documented = node.operations()
        assert served - documented == set(), f"undocumented: {sorted(served - documented)}"
        assert documented - served == set(), f"not served: {sorted(documented - served)}"
        assert len(documented) >= 75
        for path, ops in node.doc["paths"].items():
            for method, op in ops.items():
                success = [s for s in op["responses"] if s.startswith("2")]
                assert success, f"{method} {path} documents no success"
                for status in success:
                    if status != "204":
                        assert op["responses"][status]["content"], (method, path)
                errors = [s for s in op["responses"] if s[0] in "45"]
                for status in errors:
                    content = op["responses"][status]["content"]
                    assert "application/problem+json" in content, (method, path, status)


async def test_a_component_not_mounted_contributes_nothing(space: Space) -> None:
    """The authority's routes are mounted only on an authority, and documented only there."""
    authority_paths = [p for p in space.authority.doc["paths"] if p.startswith("/authority/")]
    assert len(authority_paths) >= 5
    assert not [p for p in space.city.doc["paths"] if p.startswith("/authority/")]


async def test_document_shapes(space: Space) -> None:
    doc = space.city.doc
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    refs: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("$ref"), str):
                refs.add(value["$ref"].rsplit("/", 1)[-1])
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(doc)
    assert refs <= set(schemas), sorted(refs - set(schemas))
    assert "entityTypes" in schemas["DatasetIn"]["properties"]
    assert doc["components"]["securitySchemes"]["adminKey"]["scheme"] == "bearer"
    catalog = doc["paths"]["/catalog/request"]["post"]
    assert "200" in catalog["responses"] and "201" not in catalog["responses"]
    created = doc["paths"]["/datasets"]["post"]
    assert (
        "201" in created["responses"]
        and created["requestBody"]["content"]["application/json"]["example"]
    )
    assert doc["paths"]["/datasets/{id}"]["delete"]["responses"]["204"]
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    ledger = doc["paths"]["/ledger/tree-head"]["get"]
    assert {"adminKey": []} in ledger["security"] and {"dcpToken": []} in ledger["security"]
    search = {p["name"] for p in doc["paths"]["/catalog/search"]["get"]["parameters"]}
    assert {"q", "bbox", "price_max", "limit"} <= search


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        for name, value in attrs:
            if name in ("src", "href") and value and "//" in value:
                self.external.append(value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


async def test_description_is_served_without_the_key(space: Space) -> None:
    city = space.city
    async with city.http.get(city.url + "/api/v1/docs") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        html = await resp.text()
    page = _Page()
    page.feed(html)
    assert page.scripts == 0 and page.external == []  # offline: nothing fetched elsewhere
    text = " ".join(page.text)
    for path in city.doc["paths"]:
        assert path in text, path
    for name in ("DatasetView", "NegotiationView", "Problem"):
        assert name in text
    # the rest of the API still wants the key
    refused = await city.call("GET", "/datasets", key=False)
    assert refused.status == 401


async def wait_state(node: Described, path: str, states: set[str]) -> dict[str, Any]:
    for _ in range(500):
        got = await node.call("GET", path)
        assert got.status == 200
        if got.body["state"] in states:
            return dict(got.body)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} stayed {got.body['state']}")


async def test_answers_conform_to_the_document(space: Space) -> None:
    """A representative walk through the API: publish, join, negotiate, transfer, pull, audit,
    sell; every answer, success or Problem, is checked against the served document."""
    authority, city, company = space.authority, space.city, space.company

    # the description itself, without the key
    for path in ("/openapi.json", "/docs"):
        assert (await city.call("GET", path, key=False)).status == 200

    # who we are
    assert (await city.call("GET", "/participant")).status == 200
    profile = {"description": "The city's open data", "country": "ES"}
    assert (await city.call("PUT", "/participant/profile", profile)).status == 200

    # joining the data space: the city is vetted (202), the company admitted at once (201)
    assert (await city.call("GET", "/membership")).status == 404
    applied = await city.call("POST", "/membership", {"authority": authority.url})
    assert applied.status == 202, applied.body
    listed = await authority.call("GET", "/authority/requests?state=pending")
    assert [r["did"] for r in listed.body] == [city.did]
    approved = await authority.call(
        "POST", f"/authority/requests/{applied.body['requestId']}/approve"
    )
    assert approved.status == 200, approved.body
    joined = await company.call(
        "POST", "/membership", {"authority": authority.url, "country": "DE"}
    )
    assert joined.status == 201, joined.body
    assert (await company.call("GET", "/membership")).body["state"] == "approved"
    assert (await authority.call("GET", "/authority/requests")).status == 200
    assert len((await authority.call("GET", "/authority/members")).body) == 2
    for action in ("suspend", "reinstate"):
        moved = await authority.call(
            "POST", f"/authority/members/{quote(company.did, safe='')}/{action}"
        )
        assert moved.status == 200, moved.body
    assert (await authority.call("GET", "/authority/members?all=true")).status == 200

    # the wallet and DCP tokens
    held = await company.call("GET", "/trust/credentials")
    assert held.status == 200 and held.body
    one = await company.call("GET", f"/trust/credentials/{held.body[0]['id']}")
    assert one.status == 200
    assert (await company.call("GET", "/trust/issuance-requests")).status == 200
    token = await company.call("POST", "/trust/tokens", {"audience": city.did})
    assert token.status == 201
    verified = await city.call("POST", "/trust/verify", {"token": token.body["token"]})
    assert verified.status == 200 and verified.body["verified"] is True, verified.body

    # publish: a dataset, a policy, an offer; templates and the conflict check
    ds = await city.call(
        "POST", "/datasets", {"title": "Air quality", "entityTypes": ["AirQualityObserved"]}
    )
    assert ds.status == 201
    ds_id = ds.body["id"]
    assert (await city.call("GET", "/datasets?entityType=AirQualityObserved")).body
    assert (await city.call("GET", f"/datasets/{ds_id}")).status == 200
    assert (await city.call("PATCH", f"/datasets/{ds_id}", {"title": "Air (hourly)"})).status == 200
    pol = await city.call("POST", "/policies", OPEN_POLICY)
    assert pol.status == 201
    assert (await city.call("GET", "/policies")).status == 200
    assert (await city.call("PUT", f"/policies/{pol.body['id']}", OPEN_POLICY)).status == 200
    assert (await city.call("GET", f"/policies/{pol.body['id']}")).status == 200
    templates = await city.call("GET", "/policy-templates")
    assert templates.status == 200 and templates.body
    name = templates.body[0]["name"]
    assert (await city.call("GET", f"/policy-templates/{name}")).status == 200
    made = await city.call("POST", f"/policy-templates/{name}", {"parameters": {"x": 1}})
    assert made.status == 400  # not a parameter of the template: a Problem, documented
    example = city.doc["paths"]["/policies/conflicts"]["post"]["requestBody"]["content"][
        "application/json"
    ]["example"]
    checked = await city.call("POST", "/policies/conflicts", example)
    assert checked.status == 200 and checked.body["status"] == "Conflict", checked.body
    offer = await city.call("POST", "/offers", {"datasetId": ds_id, "policyId": pol.body["id"]})
    assert offer.status == 201
    assert (await city.call("GET", f"/offers?datasetId={ds_id}")).body
    assert (await city.call("GET", f"/offers/{offer.body['id']}")).status == 200

    # something to delete again
    spare = await city.call("POST", "/datasets", {"title": "Spare", "entityTypes": ["Spare"]})
    spare_pol = await city.call("POST", "/policies", OPEN_POLICY)
    spare_offer = await city.call(
        "POST", "/offers", {"datasetId": spare.body["id"], "policyId": spare_pol.body["id"]}
    )
    assert (await city.call("DELETE", f"/datasets/{spare.body['id']}")).status == 409
    assert (await city.call("DELETE", f"/offers/{spare_offer.body['id']}")).status == 204
    assert (await city.call("DELETE", f"/policies/{spare_pol.body['id']}")).status == 204
    assert (await city.call("DELETE", f"/datasets/{spare.body['id']}")).status == 204

    # acquire: the company browses the city's catalog, negotiates, transfers, pulls
    dsp = city.url + "/dsp"
    catalog = await company.call("POST", "/catalog/request", {"counterPartyAddress": dsp})
    assert catalog.status == 200, catalog.body
    one_ds = await company.call(
        "POST", "/catalog/dataset", {"counterPartyAddress": dsp, "datasetId": ds_id}
    )
    assert one_ds.status == 200, one_ds.body
    offered = next(d for d in catalog.body["dataset"] if d["@id"] == ds_id)["hasPolicy"][0]
    neg = await company.call(
        "POST", "/negotiations", {"counterPartyAddress": dsp, "offer": offered, "target": ds_id}
    )
    assert neg.status == 201, neg.body
    done = await wait_state(company, f"/negotiations/{neg.body['id']}", {"FINALIZED"})
    assert (await company.call("GET", "/negotiations?state=FINALIZED")).body
    assert (await city.call("GET", "/negotiations")).body
    terminated = await company.call("POST", f"/negotiations/{neg.body['id']}/terminate")
    assert terminated.status == 409  # a finalized negotiation stays final
    agreement_id = done["agreementId"]
    assert (await company.call("GET", "/agreements")).body
    assert (await city.call("GET", f"/agreements/{agreement_id}")).status == 200
    transfer = await company.call(
        "POST", "/transfers", {"agreementId": agreement_id, "format": "NGSI-LD-PULL"}
    )
    assert transfer.status == 201, transfer.body
    tid = transfer.body["id"]
    await wait_state(company, f"/transfers/{tid}", {"STARTED"})
    assert (await company.call("GET", "/transfers?state=STARTED")).body
    assert (await company.call("GET", f"/transfers/{tid}/edr")).status == 200
    assert (await company.call("POST", f"/transfers/{tid}/edr/refresh")).status == 200
    pulled = await company.call("GET", f"/pull/{tid}/ngsi-ld/v1/entities?type=AirQualityObserved")
    assert pulled.status == 200, pulled.body
    data = await company.call("GET", f"/transfers/{tid}/data?type=AirQualityObserved")
    assert data.status in (200, 404), data.body  # the endpoint's own answer, passed on
    assert (await company.call("GET", "/received")).status == 200
    assert (await company.call("POST", f"/transfers/{tid}/suspend")).status == 200
    assert (await company.call("GET", "/decisions")).status == 200

    # audit: the city's ledger logged the negotiation
    head = await city.call("GET", "/ledger/tree-head")
    size = head.body["size"]
    assert size >= 1
    assert (await city.call("GET", f"/ledger/records?start=0&end={size}")).body["records"]
    assert (await city.call("GET", f"/ledger/records?agreement={agreement_id}")).status == 200
    assert (await city.call("GET", "/ledger/records/0")).status == 200
    assert (await city.call("GET", f"/ledger/records/{size + 5}")).status == 404
    proof = await city.call("GET", f"/ledger/proofs/inclusion?index=0&size={size}")
    assert proof.status == 200
    grown = await city.call("GET", f"/ledger/proofs/consistency?first=1&second={size}")
    assert grown.status == 200
    assert (await city.call("GET", "/ledger/anchors")).status == 200
    assert (await city.call("GET", f"/ledger/receipts?agreement={agreement_id}")).status == 200

    # sell: an offering from the document's own example, published; payments and accounts
    body = city.doc["paths"]["/offerings"]["post"]["requestBody"]["content"]["application/json"][
        "example"
    ]
    made = await city.call("POST", "/offerings", {**body, "dataset_id": ds_id})
    assert made.status == 201, made.body
    oid = made.body["id"]
    assert (await city.call("GET", "/offerings?lifecycle=draft")).body
    edited = await city.call("PATCH", f"/offerings/{oid}", {"description": "Hourly"})
    assert edited.status == 200
    assert (await city.call("POST", f"/offerings/{oid}/publish")).status == 200
    assert (await city.call("GET", f"/offerings/{oid}?version=1")).status == 200
    assert (await city.call("GET", f"/offerings/{oid}/versions")).status == 200
    assert (await city.call("DELETE", f"/offerings/{oid}")).status == 409
    assert (await city.call("POST", f"/offerings/{oid}/retire")).status == 200
    assert (await city.call("GET", "/payments")).status == 200
    assert (await city.call("GET", f"/agreements/{agreement_id}/account")).status == 404

    # the federated catalog (off on these nodes: a documented 404 Problem)
    for method, path in (
        ("GET", "/catalog/search?q=air"),
        ("GET", "/catalog/nodes"),
        ("GET", "/catalog/productOffering?free=true"),
        ("GET", "/catalog/export?format=turtle"),
        ("POST", "/catalog/crawl"),
    ):
        assert (await city.call(method, path)).status in (200, 404)

    # refusals are documented Problems too
    pid = neg.body["id"]
    assert (await company.call("POST", f"/negotiations/{pid}/accept")).status == 409
    assert (await company.call("POST", "/decisions/urn:uuid:none/approve")).status == 404
    assert (await company.call("POST", "/decisions/urn:uuid:none/decline", {})).status == 404
    refused = await authority.call(
        "POST", f"/authority/requests/{applied.body['requestId']}/reject", {"reason": "late"}
    )
    assert refused.status == 409  # approved already
    paid = {"agreementId": "urn:uuid:none", "amount": "1", "currency": "EUR", "reference": "x"}
    assert (await city.call("POST", "/payments", paid)).status == 404

    # the end of a membership
    revoked = await authority.call(
        "POST", f"/authority/members/{quote(company.did, safe='')}/revoke"
    )
    assert revoked.status == 200, revoked.body
    assert (await company.call("DELETE", f"/trust/credentials/{held.body[0]['id']}")).status == 204

    covered = city.covered | company.covered | authority.covered
    assert len(covered) >= 80, sorted((space.authority.operations() | city.operations()) - covered)


async def test_safe_get_routes_hold_to_the_document_under_generated_input(space: Space) -> None:
    """schemathesis, on a thread while the connectors serve (after the walk above: with data)."""
    city = space.city
    failures = await asyncio.to_thread(safe_gets_conform, city.url, city.admin_key)
    assert not failures, "\n".join(failures)
