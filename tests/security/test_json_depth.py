"""A deeply nested JSON document is refused with a 400 at every JSON entry point, and the
connector keeps answering: the body of 100,000 ``[`` once killed the process (SIGSEGV) because
web3's import raised the recursion limit and the stdlib decoder recursed on the C stack."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from identity import DidResolver, FetchPolicy, Reason, ResolutionError
from identity.credential_service import AiohttpCredentialServiceClient
from identity.errors import IdentityError
from identity.http_guard import GuardedHttp
from tests.dsp.helpers import Node, signed

pytestmark = [
    pytest.mark.asyncio(loop_scope="module"),
    pytest.mark.usefixtures("web3_recursion_limit"),
]

DEEP = b"[" * 100_000  # about 100 KB; unterminated, as an attacker need not close it
DEEP_CLOSED = b"[" * 5_000 + b"]" * 5_000  # valid JSON, deeper than any limit
JUST_TOO_DEEP = b"[" * 65 + b"]" * 65  # under orjson's own bound, over ours (64)
JSON = {"Content-Type": "application/json"}


async def _alive(node: Node) -> None:
    async with node.http.get(node.url + "/health") as resp:
        assert resp.status == 200


async def _post(
    node: Node, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str, Any]:
    async with node.http.post(node.url + path, data=body, headers={**JSON, **headers}) as resp:
        return resp.status, resp.content_type, json.loads(await resp.read())


@pytest.mark.parametrize("body", [DEEP, DEEP_CLOSED, JUST_TOO_DEEP], ids=["open", "closed", "65"])
async def test_dcp_presentation_query(nodes: tuple[Node, Node], body: bytes) -> None:
    """Any bearer string: refused before the body is read. (A genuine verifier's deep body is
    a 400: tests/trust/test_credential_service.py, where the peers resolve each other.)"""
    city, _ = nodes
    status, ctype, problem = await _post(
        city, "/dcp/presentations/query", body, {"Authorization": "Bearer anything"}
    )
    assert status == 401 and ctype == "application/problem+json", problem
    await _alive(city)


@pytest.mark.parametrize("body", [DEEP, DEEP_CLOSED, JUST_TOO_DEEP], ids=["open", "closed", "65"])
async def test_dsp_message_answers_the_dsp_error(nodes: tuple[Node, Node], body: bytes) -> None:
    city, company = nodes
    before = await _negotiations(city)
    status, problem = await signed(company, city, "POST", "/negotiations/request", raw=body)
    assert status == 400
    assert problem["@type"] == "ContractNegotiationError"
    assert problem["code"] == "MalformedMessage"
    assert "nested deeper than 64" in problem["reason"][0]
    assert await _negotiations(city) == before
    await _alive(city)


async def test_dsp_message_without_a_token_is_refused_before_the_body(
    nodes: tuple[Node, Node],
) -> None:
    city, _ = nodes
    status, _, problem = await _post(city, "/dsp/negotiations/request", DEEP, {})
    assert status == 401 and problem["code"] == "Unauthorized"


@pytest.mark.parametrize("body", [DEEP, DEEP_CLOSED, JUST_TOO_DEEP], ids=["open", "closed", "65"])
async def test_ngsild_create(nodes: tuple[Node, Node], body: bytes) -> None:
    city, _ = nodes
    admin = {"Authorization": f"Bearer {city.admin_key}"}
    status, ctype, problem = await _post(city, "/ngsi-ld/v1/entities", body, admin)
    assert status == 400 and ctype == "application/problem+json"
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    # a batch create of an entity whose attribute value is deep: nothing of the batch stored
    entity = b'{"id":"urn:ngsi-ld:T:deep","type":"T","p":{"type":"Property","value":' + body
    status, _, problem = await _post(
        city, "/ngsi-ld/v1/entityOperations/create", b"[" + entity + b"}}]", admin
    )
    assert status == 400
    async with city.http.get(
        city.url + "/ngsi-ld/v1/entities/urn:ngsi-ld:T:deep", headers=admin
    ) as resp:
        assert resp.status == 404
    await _alive(city)


@pytest.mark.parametrize("body", [DEEP, DEEP_CLOSED], ids=["open", "closed"])
async def test_ledger_records_from_a_peer(nodes: tuple[Node, Node], body: bytes) -> None:
    city, company = nodes
    assert city.connector.ctx is not None
    ledger = city.connector.ctx.components["provenance"].ledger
    size = await ledger.sync()
    token = await company.dsp.issuer.token_for(city.did)
    status, _, problem = await _post(
        city, "/ledger/v1/records", body, {"Authorization": f"Bearer {token}"}
    )
    assert status == 400 and "nested deeper than 64" in problem["detail"]
    # a record whose text is the deep document: refused as that record's problem
    token = await company.dsp.issuer.token_for(city.did)
    wrapped = json.dumps({"records": [body.decode()]}).encode()
    async with city.http.post(
        city.url + "/ledger/v1/records",
        data=wrapped,
        headers={**JSON, "Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status in (202, 400), await resp.text()
        answer = await resp.json()
    if resp.status == 202:
        assert all("problem" in r for r in answer["results"])
    assert await ledger.sync() == size
    await _alive(city)


async def test_ledger_records_without_a_token_is_refused_before_the_body(
    nodes: tuple[Node, Node],
) -> None:
    city, _ = nodes
    status, _, problem = await _post(city, "/ledger/v1/records", DEEP, {})
    assert status == 401 and problem["status"] == 401


@pytest.mark.parametrize("body", [DEEP, DEEP_CLOSED, JUST_TOO_DEEP], ids=["open", "closed", "65"])
async def test_management_routes(nodes: tuple[Node, Node], body: bytes) -> None:
    city, _ = nodes
    admin = {"Authorization": f"Bearer {city.admin_key}"}
    before = await city.admin("GET", "/participant")
    async with city.http.put(
        city.url + "/api/v1/participant/profile", data=body, headers={**JSON, **admin}
    ) as resp:
        assert resp.status == 400 and resp.content_type == "application/problem+json"
        assert "nested deeper than 64" in (await resp.json())["detail"]
    status, _, problem = await _post(city, "/api/v1/policies", body, admin)
    assert status == 400 and "nested deeper than 64" in problem["detail"]
    assert await city.admin("GET", "/participant") == before
    # without the admin key the body is not even read
    status, _, problem = await _post(city, "/api/v1/policies", body, {})
    assert status == 401
    await _alive(city)


async def _negotiations(node: Node) -> int:
    from sqlalchemy import func, select

    from connector.dsp.tables import negotiations

    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(negotiations))).scalar_one()
        )


# --- documents the connector fetches ----------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="module")
async def hostile() -> AsyncIterator[str]:
    """A loopback server answering every DID document and credential query with a deep body."""

    async def deep(request: web.Request) -> web.Response:
        return web.Response(body=DEEP_CLOSED, content_type="application/json")

    app = web.Application()
    app.router.add_get("/{name}/did.json", deep)
    app.router.add_post("/cs/presentations/query", deep)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await runner.cleanup()


POLICY = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_loopback=True, allow_http=True)


async def test_a_deep_did_document_is_unresolvable(hostile: str) -> None:
    host, port = hostile.split(":")
    resolver = DidResolver(POLICY)
    try:
        with pytest.raises(ResolutionError) as err:
            await resolver.resolve(f"did:web:{host}%3A{port}:attacker")
    finally:
        await resolver.close()
    assert err.value.reason is Reason.DID_UNRESOLVABLE
    assert "nests deeper than 64" in str(err.value)


async def test_a_deep_credential_service_answer_is_refused(hostile: str) -> None:
    http = GuardedHttp(POLICY)
    try:
        with pytest.raises(IdentityError) as err:
            await AiohttpCredentialServiceClient(http).query(
                f"http://{hostile}/cs", "Bearer x", {"type": "PresentationQueryMessage"}
            )
    finally:
        await http.close()
    assert err.value.reason is Reason.CREDENTIAL_SERVICE_FAILED
    assert "nests deeper than 64" in str(err.value)


# --- JSON text inside a request: geo-query coordinates, a policy's GeoJSON operand ------------


async def test_deep_geoquery_coordinates(nodes: tuple[Node, Node]) -> None:
    city, _ = nodes
    admin = {"Authorization": f"Bearer {city.admin_key}"}
    geo = "georel=intersects&geometry=Point&coordinates="
    async with city.http.get(
        city.url + "/ngsi-ld/v1/entities?type=T&" + geo + "[" * 2500, headers=admin
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    query = {
        "type": "Query",
        "entities": [{"type": "T"}],
        "geoQ": {"georel": "intersects", "geometry": "Point", "coordinates": "[" * 100_000},
    }
    status, _, problem = await _post(
        city, "/ngsi-ld/v1/entityOperations/query", json.dumps(query).encode(), admin
    )
    assert status == 400 and "nested deeper than 64" in problem["detail"]
    await _alive(city)


async def test_deep_geojson_text_in_a_policy_operand() -> None:
    from policies.errors import PolicyError
    from policies.jsonld import parse_policy
    from policies.operators import OperatorError, to_geometry

    with pytest.raises(OperatorError):
        to_geometry('{"type":' * 50_000)
    with pytest.raises(OperatorError):
        to_geometry('{"type":"Point","coordinates":[1,NaN]}')
    assert to_geometry('{"type":"Point","coordinates":[1,2]}').geom_type == "Point"
    with pytest.raises(PolicyError):
        parse_policy("[" * 100_000)
