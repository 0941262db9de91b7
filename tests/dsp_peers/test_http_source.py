"""Datasets served from a plain HTTP source (a CSV export, a JSON file behind a secret), not
the NGSI-LD broker: offered as HttpData-PULL to a consumer that speaks only DSP 2025-1, through
the same PEP, counters and provenance as the broker's data, the upstream's secret kept."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select

from connector.dsp.tables import datasets, transfers
from tests.dsp.helpers import Node, wait_for
from tests.dsp_peers.peer import Peer, msg, urn
from tests.dsp_peers.test_agora_provider import agreed

pytestmark = pytest.mark.asyncio(loop_scope="package")
HTTP = "https://w3id.org/idsa/v4.1/HTTP"
SECRET = "Basic dXBzdHJlYW06c2VjcmV0"  # the city's own credential for its upstream
CSV = b"station,no2\nA1,21\nB2,34\n"


class Upstream:
    """A city's existing HTTP endpoints: a CSV export behind a secret, a large file."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/export.csv", self.export)
        app.router.add_get("/big.json", self.big)
        app.router.add_get("/broken", self.broken)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def export(self, request: web.Request) -> web.Response:
        self.seen.append({**dict(request.headers), "query": request.query_string})
        if request.headers.get("Authorization") != SECRET:
            return web.Response(status=401)
        return web.Response(body=CSV, content_type="text/csv")

    async def big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"[" + b"0," * 5000 + b"0]", content_type="application/json")

    async def broken(self, request: web.Request) -> web.Response:
        return web.Response(status=500, text="upstream internals: stack trace, paths")


@pytest_asyncio.fixture(scope="module", loop_scope="package")
async def upstream() -> AsyncIterator[Upstream]:
    found = Upstream()
    await found.start()
    try:
        yield found
    finally:
        assert found.runner is not None
        await found.runner.cleanup()


def props_of(address: dict[str, Any]) -> dict[str, str]:
    return {p["name"]: p["value"] for p in address.get("endpointProperties", [])}


async def records(agora: Node, agreement_id: str) -> int:
    provenance = agora.connector.ctx.components["provenance"]  # type: ignore[union-attr]
    await provenance.ledger.sync()
    return len(await provenance.ledger.store.indices_for_agreement(agreement_id))


async def source_dataset(
    agora: Node, source: dict[str, Any], policy: dict[str, Any] | None = None
) -> str:
    status, ds = await agora.admin("POST", "/datasets", {"title": "export", "source": source})
    assert status == 201, ds
    status, pol = await agora.admin(
        "POST", "/policies", policy or {"permission": [{"action": "use"}]}
    )
    assert status == 201, pol
    status, offer = await agora.admin(
        "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]}
    )
    assert status == 201, offer
    return str(ds["id"])


async def started(
    agora: Node, peer: Peer, dataset_id: str, fmt: str = "HttpData-PULL"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The peer negotiates for ``dataset_id`` and starts a transfer: (agreement, address)."""
    cpid, ppid, agreement = await agreed(agora, peer, dataset_id)
    verification = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
    url = f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification"
    status, doc, _ = await peer.call("POST", url, verification, audience=agora.did)
    assert status == 200, doc
    await wait_for(agora.negotiation, ppid, {"FINALIZED"})
    tcpid = urn()
    request = msg(
        "TransferRequestMessage",
        consumerPid=tcpid,
        agreementId=agreement["@id"],
        format=fmt,
        callbackAddress=peer.dsp_url,
    )
    status, doc, _ = await peer.call(
        "POST", f"{agora.dsp_url}/transfers/request", request, audience=agora.did
    )
    assert status == 201, doc
    start = await peer.next_message("TransferStartMessage", consumerPid=tcpid)
    return agreement, start["dataAddress"]


async def get(peer: Peer, url: str, token: str | None) -> tuple[int, bytes, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with peer.http.get(url, headers=headers) as resp:  # type: ignore[union-attr]
        return resp.status, await resp.read(), dict(resp.headers)


async def test_a_csv_export_is_pulled_as_http_data_under_the_agreement(
    agora: Node, peer: Peer, upstream: Upstream
) -> None:
    dataset_id = await source_dataset(
        agora, {"url": upstream.url + "/export.csv", "authorization": SECRET}
    )
    status, view = await agora.admin("GET", f"/datasets/{dataset_id}")
    assert status == 200 and view["source"]["hasAuthorization"] is True, view
    assert SECRET not in str(view)  # write-only
    status, catalog, _ = await peer.call(
        "POST",
        f"{agora.dsp_url}/catalog/request?limit=200",
        msg("CatalogRequestMessage"),
        audience=agora.did,
    )
    assert status == 200, catalog
    ours = next(d for d in catalog["dataset"] if d["@id"] == dataset_id)
    assert [d["format"] for d in ours["distribution"]] == ["HttpData-PULL"]
    agreement, address = await started(agora, peer, dataset_id)
    assert address["endpointType"] == HTTP and SECRET not in str(address)
    token = props_of(address)["authorization"]
    before = await records(agora, agreement["@id"])
    status, body, headers = await get(peer, address["endpoint"], token)
    assert status == 200, body
    assert body == CSV and headers["Content-Type"].startswith("text/csv")
    assert upstream.seen[-1]["Authorization"] == SECRET
    assert token not in str(upstream.seen[-1])  # the consumer's token stays with us
    for _ in range(500):
        if await records(agora, agreement["@id"]) > before:
            break
        await asyncio.sleep(0.02)
    assert await records(agora, agreement["@id"]) == before + 1
    # the same PEP: no token, and a tampered token, get 401 and reach no upstream
    calls = len(upstream.seen)
    assert (await get(peer, address["endpoint"], None))[0] == 401
    assert (await get(peer, address["endpoint"], token[:-2] + "xx"))[0] == 401
    assert len(upstream.seen) == calls
    # this token is for the source: the broker's NGSI-LD API refuses it
    status, body, _ = await get(peer, agora.url + "/ngsi-ld/v1/entities?type=Thing", token)
    assert status == 403 and b"HTTP data" in body, body


async def test_a_rest_endpoint_gets_the_consumers_query_when_told(
    agora: Node, peer: Peer, upstream: Upstream
) -> None:
    rest = await source_dataset(
        agora,
        {"url": upstream.url + "/export.csv", "authorization": SECRET, "forwardQuery": True},
    )
    _, address = await started(agora, peer, rest)
    token = props_of(address)["authorization"]
    status, body, _ = await get(peer, address["endpoint"] + "?station=A1&type=x&attrs=y", token)
    assert status == 200, body  # NGSI-LD's type/attrs mean nothing here: passed on as they are
    assert upstream.seen[-1]["query"] == "station=A1&type=x&attrs=y"


async def test_the_agreements_count_is_consumed_by_source_requests(
    agora: Node, peer: Peer, upstream: Upstream
) -> None:
    once = {"permission": [{"action": "use", "constraint": [
        {"leftOperand": "count", "operator": "lteq", "rightOperand": 1}
    ]}]}  # fmt: skip
    dataset_id = await source_dataset(
        agora, {"url": upstream.url + "/export.csv", "authorization": SECRET}, once
    )
    agreement, address = await started(agora, peer, dataset_id)
    token = props_of(address)["authorization"]
    before = await records(agora, agreement["@id"])
    assert (await get(peer, address["endpoint"], token))[0] == 200
    calls = len(upstream.seen)
    status, body, _ = await get(peer, address["endpoint"], token)
    assert status == 403 and b"1 use" in body, body
    assert len(upstream.seen) == calls  # refused before the upstream is asked
    for _ in range(500):  # the refusal is recorded too
        if await records(agora, agreement["@id"]) >= before + 2:
            break
        await asyncio.sleep(0.02)
    assert await records(agora, agreement["@id"]) == before + 2


async def test_a_token_of_one_dataset_reads_no_other(
    agora: Node, peer: Peer, upstream: Upstream
) -> None:
    mine = await source_dataset(
        agora, {"url": upstream.url + "/export.csv", "authorization": SECRET}
    )
    other = await source_dataset(agora, {"url": upstream.url + "/big.json"})
    _, address = await started(agora, peer, mine)
    token = props_of(address)["authorization"]
    status, body, _ = await get(peer, address["endpoint"].replace(
        mine.replace(":", "%3A"), other.replace(":", "%3A")), token)  # fmt: skip
    assert status == 403 and other.encode() in body, body
    # a broker dataset's token does not open a source either
    _, broker_address = await started(agora, peer, (await agora.publish())[0])
    status, body, _ = await get(
        peer, address["endpoint"], props_of(broker_address)["authorization"]
    )
    assert status == 403, body


async def test_an_upstream_failure_or_an_oversized_answer_is_a_502(
    agora: Node, peer: Peer, upstream: Upstream
) -> None:
    big = await source_dataset(agora, {"url": upstream.url + "/big.json", "maxBytes": 1000})
    _, address = await started(agora, peer, big)
    status, body, headers = await get(peer, address["endpoint"], props_of(address)["authorization"])
    assert status == 502, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert b"1000 bytes" in body and upstream.url.encode() not in body, body
    broken = await source_dataset(agora, {"url": upstream.url + "/broken"})
    _, address = await started(agora, peer, broken)
    status, body, _ = await get(peer, address["endpoint"], props_of(address)["authorization"])
    assert status == 502 and b"500" in body and b"stack trace" not in body, body
    assert upstream.url.encode() not in body


async def test_a_source_dataset_is_not_offered_as_ngsi_ld(
    agora: Node, peer: Peer, upstream: Upstream
) -> None:
    dataset_id = await source_dataset(agora, {"url": upstream.url + "/export.csv"})
    cpid, ppid, agreement = await agreed(agora, peer, dataset_id)
    verification = msg("ContractAgreementVerificationMessage", providerPid=ppid, consumerPid=cpid)
    url = f"{agora.dsp_url}/negotiations/{ppid}/agreement/verification"
    assert (await peer.call("POST", url, verification, audience=agora.did))[0] == 200
    await wait_for(agora.negotiation, ppid, {"FINALIZED"})
    count = await _count(agora, transfers)
    for fmt in ("NGSI-LD-PULL", "NGSI-LD-PUSH"):
        request = msg(
            "TransferRequestMessage",
            consumerPid=urn(),
            agreementId=agreement["@id"],
            format=fmt,
            callbackAddress=peer.dsp_url,
            dataAddress={"@type": "DataAddress", "endpointType": HTTP, "endpoint": peer.url},
        )
        status, doc, _ = await peer.call(
            "POST", f"{agora.dsp_url}/transfers/request", request, audience=agora.did
        )
        assert status == 400 and doc["code"] == "UnsupportedFormat", doc
    assert await _count(agora, transfers) == count


async def _count(agora: Node, table: Any) -> int:
    async with agora.connector.ctx.db.connect() as conn:  # type: ignore[union-attr]
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.mark.parametrize(
    "source",
    [
        {"url": "ftp://files.example/export.csv"},
        {"url": "file:///etc/passwd"},
        {"url": "https://files.example/x", "maxBytes": 0},
        {"url": "https://files.example/x", "unknown": 1},
        {},
    ],
)
async def test_a_bad_source_is_a_400_and_nothing_is_stored(
    agora: Node, source: dict[str, Any]
) -> None:
    count = await _count(agora, datasets)
    status, problem = await agora.admin("POST", "/datasets", {"title": "x", "source": source})
    assert status == 400, problem
    assert problem["status"] == 400 and problem["detail"], problem
    assert await _count(agora, datasets) == count


async def test_a_dataset_needs_entity_types_or_a_source(agora: Node) -> None:
    count = await _count(agora, datasets)
    status, problem = await agora.admin("POST", "/datasets", {"title": "nothing"})
    assert status == 400 and "entityTypes" in problem["detail"], problem
    assert await _count(agora, datasets) == count


async def test_a_source_dataset_gets_no_ngsi_ld_scope(agora: Node, upstream: Upstream) -> None:
    dataset_id = await source_dataset(agora, {"url": upstream.url + "/export.csv"})
    status, problem = await agora.admin(
        "PATCH", f"/datasets/{dataset_id}", {"entityTypes": ["AirQualityObserved"]}
    )
    assert status == 400 and "HTTP source" in problem["detail"], problem
    status, view = await agora.admin("GET", f"/datasets/{dataset_id}")
    assert status == 200 and view["entityTypes"] == [], view
