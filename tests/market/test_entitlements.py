"""Every price model bought, used and rated end to end, on both engines.

The company buys one plan of each model on account, pulls through its own connector, and the
city's PEP enforces the plan's quota (a ``count`` per month in the plan's terms) with the
RateLimit headers passed back to the company's application; the city meters usage per billing
period and its TMF635 view rates it to the cent with the plan the agreement was made under.
Expected amounts are worked out here by hand from the plans (see each case's comment).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.conftest import PG_HOST, PG_PORT, PG_USER, _admin_execute, _require_postgres
from tests.dsp.helpers import Node, start_node, wait_for
from tests.enforcement.helpers import air
from tests.market.helpers import catalog, dataset

pytestmark = pytest.mark.asyncio(loop_scope="module")

USAGE = "/tmf-api/usageManagement/v4/usage"
MONTHLY = {"@id": "https://w3id.org/agora/policy#perMonth"}
CAP = 3  # requests per month in the metered plan's terms


def _quota(n: int | dict[str, str]) -> dict[str, Any]:
    """Terms with a monthly request quota (DSP 2025-1 has no JSON numbers as right operands:
    the count is a typed literal)."""
    if isinstance(n, int):
        n = {"@value": str(n), "@type": "xsd:integer"}
    constraint = {"leftOperand": "count", "operator": "lteq", "rightOperand": n}
    return {"permission": [{"action": "use", "constraint": [{**constraint, "odrl:unit": MONTHLY}]}]}


USE = {"permission": [{"action": "use"}]}
PLANS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"id": "free", "kind": "free"}, USE),
    (
        {"id": "once", "kind": "one_off", "price": "100.00", "discount": "10", "vat_rate": "21"},
        USE,
    ),
    ({"id": "monthly", "kind": "recurring", "price": "49.00", "period": "P1M"}, USE),
    (
        {
            "id": "per-request",
            "kind": "metered",
            "unit": "request",
            "rate": "0.15",
            "discount": "10",
            "vat_rate": "21",
        },
        _quota(CAP),
    ),
    ({"id": "per-mb", "kind": "metered", "unit": "MB", "rate": "2000"}, USE),
    (
        {
            "id": "graduated",
            "kind": "tiered",
            "mode": "graduated",
            "unit": "request",
            "tiers": [{"start": 0, "end": 2, "rate": "0.10"}, {"start": 2, "rate": "0.05"}],
        },
        USE,
    ),
    (
        {
            "id": "volume",
            "kind": "tiered",
            "mode": "volume",
            "unit": "entity",
            "tiers": [{"start": 0, "end": 3, "rate": "0.10"}, {"start": 3, "rate": "0.07"}],
        },
        USE,
    ),
    (
        {
            "id": "freemium",
            "kind": "freemium",
            "unit": "entity",
            "free_quota": 2,
            "rate": "0.05",
            "period": "P1M",
            "vat_rate": "21",
        },
        USE,
    ),
]


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=["sqlite", "postgres"])
async def shop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Node, Node, str, dict[str, dict[str, Any]]]]:
    """(city, company, dataset id, the offers by plan id): one offering with every model,
    bought on account; the city stores on each engine in turn."""
    root = Path(tmp_path_factory.mktemp("shop"))
    name = None
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{root / 'city.db'}"
    else:
        _require_postgres()
        name = f"agora_t_{uuid.uuid4().hex[:12]}"
        await _admin_execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    async with aiohttp.ClientSession() as http:
        company = await start_node(root, "company", "company", http=http)
        city = await start_node(
            root,
            "city",
            "city",
            storage_url=url,
            http=http,
            extra={"marketplace": {"invoice_accounts": [company.did]}},
        )
        try:
            async with city.http.post(
                city.url + "/ngsi-ld/v1/entityOperations/upsert",
                json=[air(n) for n in range(1, 3)],
                headers={"Authorization": f"Bearer {city.admin_key}"},
            ) as resp:
                assert resp.status in (201, 204), await resp.text()
            ds = await dataset(city)
            doc = {
                "id": "every-model",
                "dataset_id": ds,
                "name": "Air quality, every way",
                "plans": [{"plan": p, "terms": t} for p, t in PLANS],
            }
            status, body = await city.admin("POST", "/offerings", doc)
            assert status == 201, body
            status, body = await city.admin("POST", "/offerings/every-model/publish")
            assert status == 200, body
            found = next(d for d in (await catalog(company, city))["dataset"] if d["@id"] == ds)
            offers = {o["@id"].rsplit(":", 1)[-1]: o for o in found["hasPolicy"]}
            yield city, company, ds, offers
        finally:
            await company.connector.stop()
            await city.connector.stop()
            if name is not None:
                await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _bought(shop: Any, plan_id: str) -> tuple[str, str]:
    """The company buys ``plan_id`` and starts a PULL: (agreement id, transfer id)."""
    city, company, ds, offers = shop
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": offers[plan_id], "target": ds},
    )
    assert status == 201, neg
    mine = await wait_for(company.negotiation, neg["id"], {"FINALIZED", "TERMINATED"})
    assert mine["state"] == "FINALIZED", mine
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": mine["agreementId"], "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    await wait_for(company.transfer, tr["id"], {"STARTED"})
    return str(mine["agreementId"]), str(tr["id"])


async def _pull(company: Node, transfer_id: str) -> tuple[int, bytes, dict[str, str]]:
    """One pull through the company's connector: (status, the raw answer, headers)."""
    url = f"{company.url}/api/v1/pull/{transfer_id}/entities"
    async with company.http.get(
        url,
        params={"type": "AirQualityObserved"},
        headers={"Authorization": f"Bearer {company.admin_key}"},
    ) as resp:
        return resp.status, await resp.read(), dict(resp.headers)


async def _usage(city: Node, agreement_id: str) -> list[dict[str, Any]]:
    async with city.http.get(
        city.url + USAGE,
        params={"agreementId": agreement_id},
        headers={"Authorization": f"Bearer {city.admin_key}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        found: list[dict[str, Any]] = await resp.json()
        return found


def _chars(doc: dict[str, Any]) -> dict[str, int]:
    return {c["name"]: c["value"] for c in doc["usageCharacteristic"]}


async def test_the_request_quota_is_enforced_with_ratelimit_headers(shop: Any) -> None:
    city, company, _, _ = shop
    agreement_id, transfer_id = await _bought(shop, "per-request")
    remaining = []
    for expected in (200, 200, 200, 403):
        status, body, headers = await _pull(company, transfer_id)
        assert status == expected, body
        assert headers["RateLimit-Policy"] == f'"q0";q={CAP};w=2592000'
        found = re.fullmatch(r'"q0";r=(\d+);t=(\d+)', headers["RateLimit"])
        assert found, headers["RateLimit"]
        remaining.append(int(found.group(1)))
    assert remaining == [2, 1, 0, 0]
    detail = json.loads(body)["detail"]
    assert "3" in detail and "month" in detail.lower(), detail  # says which quota
    (used,) = await _usage(city, agreement_id)
    assert _chars(used)["requests"] == CAP  # the refused request is not metered
    assert used["status"] == "received"  # the month is still open
    # 3 x 0.15 = 0.45; discount 10 % of 0.45 = 0.045 -> 0.05 (half-up); VAT 21 % of 0.40 =
    # 0.084 -> 0.08; gross 0.45 - 0.05 + 0.08 = 0.48
    (rated,) = used["ratedProductUsage"]
    assert rated["taxExcludedRatingAmount"] == "0.40"
    assert rated["taxIncludedRatingAmount"] == "0.48"
    assert rated["currencyCode"] == "EUR" and rated["productRef"]["id"] == "per-request"


@pytest.mark.parametrize(
    ("plan_id", "pulls", "net", "gross"),
    [
        # graduated: 2 requests at 0.10 + 1 at 0.05
        ("graduated", 3, "0.25", "0.25"),
        # volume: 2 pulls x 2 entities = 4 > 3, so all 4 at 0.07
        ("volume", 2, "0.28", "0.28"),
        # freemium: 3 pulls x 2 entities = 6; 2 free, 4 x 0.05 = 0.20; VAT 0.042 -> 0.04
        ("freemium", 3, "0.20", "0.24"),
    ],
)
async def test_usage_priced_plans_are_metered_and_rated(
    shop: Any, plan_id: str, pulls: int, net: str, gross: str
) -> None:
    city, company, _, _ = shop
    agreement_id, transfer_id = await _bought(shop, plan_id)
    for _ in range(pulls):
        status, body, headers = await _pull(company, transfer_id)
        assert status == 200, body
        assert "RateLimit" not in headers  # no quota in these terms
    (used,) = await _usage(city, agreement_id)
    assert _chars(used)["requests"] == pulls and _chars(used)["entities"] == 2 * pulls
    (rated,) = used["ratedProductUsage"]
    assert (rated["taxExcludedRatingAmount"], rated["taxIncludedRatingAmount"]) == (net, gross)


async def test_usage_per_megabyte_is_the_bytes_answered(shop: Any) -> None:
    city, company, _, _ = shop
    agreement_id, transfer_id = await _bought(shop, "per-mb")
    sizes = []
    for _ in range(2):
        status, body, _ = await _pull(company, transfer_id)
        assert status == 200
        sizes.append(len(body))
    (used,) = await _usage(city, agreement_id)
    assert _chars(used)["bytes"] == sum(sizes)  # what the company received, byte for byte
    # SI megabytes at 2000 per MB: 0.002 per byte, one half-up rounding to the cent
    expected = (Decimal(sum(sizes)) * Decimal("0.002")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    (rated,) = used["ratedProductUsage"]
    assert rated["taxIncludedRatingAmount"] == f"{expected:f}"


@pytest.mark.parametrize(
    ("plan_id", "due"),
    [
        # 100.00 - 10 % = 90.00, + 21 % VAT = 18.90: 108.90
        ("once", "108.90"),
        ("monthly", "49.00"),
    ],
)
async def test_priced_in_advance_plans_bill_their_gross_and_meter_nothing(
    shop: Any, plan_id: str, due: str
) -> None:
    city, company, _, _ = shop
    agreement_id, transfer_id = await _bought(shop, plan_id)
    status, body, _ = await _pull(company, transfer_id)
    assert status == 200, body
    status, acc = await city.admin("GET", f"/agreements/{agreement_id}/account")
    assert status == 200, acc
    assert acc["nextDue"]["amount"] == due and acc["status"] == "active"
    assert await _usage(city, agreement_id) == []


async def test_the_free_plan_costs_nothing(shop: Any) -> None:
    city, company, _, _ = shop
    agreement_id, transfer_id = await _bought(shop, "free")
    status, _, _ = await _pull(company, transfer_id)
    assert status == 200
    status, acc = await city.admin("GET", f"/agreements/{agreement_id}/account")
    assert status == 200, acc
    assert acc["nextDue"] is None and acc["periodsBilled"] == 0 and acc["status"] == "active"
    assert await _usage(city, agreement_id) == []


async def test_usage_needs_the_admin_key(shop: Any) -> None:
    city, _, _, _ = shop
    async with city.http.get(city.url + USAGE) as resp:
        assert resp.status == 401


async def test_terms_that_would_break_the_dsp_catalog_are_refused(shop: Any) -> None:
    """A JSON number as a right operand is valid ODRL but not DSP 2025-1: published, it would
    make the whole catalog invalid for every consumer, so the offering is refused."""
    city, company, ds, offers = shop
    bad = {"leftOperand": "count", "operator": "lteq", "rightOperand": 3}
    doc = {
        "id": "breaks-the-catalog",
        "dataset_id": ds,
        "name": "x",
        "plans": [
            {"plan": {"id": "free", "kind": "free"}, "terms": USE},
            {
                "plan": {"id": "capped", "kind": "free"},
                "terms": {"permission": [{"action": "use", "constraint": [bad]}]},
            },
        ],
    }
    status, problem = await city.admin("POST", "/offerings", doc)
    assert status == 400, problem
    assert problem["field"] == "plans.1.terms", problem
    status, _ = await city.admin("GET", "/offerings/breaks-the-catalog")
    assert status == 404
    status, problem = await city.admin("PATCH", "/offerings/every-model", {"plans": doc["plans"]})
    assert status == 400, problem
    status, body = await city.admin("GET", "/offerings/every-model")
    assert body["version"] == 1 and len(body["plans"]) == len(PLANS)
    found = next(d for d in (await catalog(company, city))["dataset"] if d["@id"] == ds)
    assert len(found["hasPolicy"]) == len(offers)
