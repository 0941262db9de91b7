"""Invoice payments: access on account, suspension for non-payment, payments checked."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dsp.helpers import Node, wait_for
from tests.enforcement.helpers import air
from tests.market.helpers import catalog, published

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _seed(city: Node) -> None:
    async with city.http.post(
        city.url + "/ngsi-ld/v1/entityOperations/upsert",
        json=[air(n) for n in range(1, 3)],
        headers={"Authorization": f"Bearer {city.admin_key}"},
    ) as resp:
        assert resp.status in (201, 204), await resp.text()


async def buy(city: Node, company: Node, until: str = "FINALIZED") -> dict[str, Any]:
    """The company buys the commercial plan: its negotiation, once in state ``until``."""
    await _seed(city)
    ds, _ = await published(city)
    commercial = (await catalog(company, city))["dataset"][0]["hasPolicy"][1]
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": commercial, "target": ds},
    )
    assert status == 201
    return await wait_for(company.negotiation, neg["id"], {until}, field="agreementId")


async def start(company: Node, agreement_id: str) -> str:
    """A PULL transfer under the agreement, STARTED: its id."""
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": agreement_id, "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    await wait_for(company.transfer, tr["id"], {"STARTED"})
    return str(tr["id"])


async def _buy_and_start(city: Node, company: Node) -> tuple[str, str]:
    """The company buys the commercial plan and starts a PULL: (agreement id, transfer id)."""
    neg = await buy(city, company)
    return neg["agreementId"], await start(company, neg["agreementId"])


async def _pull(company: Node, transfer_id: str) -> tuple[int, Any]:
    return await company.admin("GET", f"/pull/{transfer_id}/entities?type=AirQualityObserved")


async def test_on_account_access_starts_at_once(market: tuple[Node, Node]) -> None:
    city, company = market
    agreement_id, transfer_id = await _buy_and_start(city, company)
    status, body = await _pull(company, transfer_id)
    assert status == 200 and len(body) == 2
    status, acc = await city.admin("GET", f"/agreements/{agreement_id}/account")
    assert status == 200
    assert acc["status"] == "active" and acc["periodsPaid"] == 0
    assert acc["nextDue"]["amount"] == "49.00" and acc["nextDue"]["currency"] == "EUR"


def _payment(agreement_id: str, **change: Any) -> dict[str, Any]:
    return {
        "agreementId": agreement_id,
        "amount": "49.00",
        "currency": "EUR",
        "reference": "INV-2026-0001",
        **change,
    }


@pytest.mark.parametrize(
    "change",
    [
        {"amount": "48.00"},
        {"amount": "-49.00"},
        {"amount": "49,00"},
        {"amount": None},
        {"currency": "USD"},
        {"currency": "XYZ"},
        {"method": "cash"},
    ],
)
async def test_a_wrong_payment_is_refused_and_not_stored(
    overdue_market: tuple[Node, Node], change: dict[str, Any]
) -> None:
    city, company = overdue_market
    agreement_id, _ = await _buy_and_start(city, company)
    status, problem = await city.admin("POST", "/payments", _payment(agreement_id, **change))
    assert status == 400, problem
    assert (await city.admin("GET", "/payments"))[1] == []
    status, acc = await city.admin("GET", f"/agreements/{agreement_id}/account")
    assert acc["status"] == "suspended"


async def test_unpaid_past_due_is_suspended_until_paid(overdue_market: tuple[Node, Node]) -> None:
    city, company = overdue_market
    agreement_id, transfer_id = await _buy_and_start(city, company)
    status, body = await _pull(company, transfer_id)
    assert status == 403, body
    assert "suspended for non-payment" in body["detail"] and "49.00 EUR" in body["detail"]
    status, paid = await city.admin("POST", "/payments", _payment(agreement_id))
    assert status == 201, paid
    assert paid["payer"] == company.did and paid["amount"] == "49.00"
    # the same payment again is a replay: refused, nothing added
    status, problem = await city.admin(
        "POST", "/payments", _payment(agreement_id, reference="INV-2026-0001")
    )
    assert status == 409, problem
    assert len((await city.admin("GET", f"/payments?agreementId={agreement_id}"))[1]) == 1
    status, body = await _pull(company, transfer_id)
    assert status == 200 and len(body) == 2
    status, ledger = await city.admin("GET", f"/ledger/records?agreement={agreement_id}")
    kinds = [(r["record"]["kind"], r["record"]["decision"]) for r in ledger["records"]]
    assert ("payment", "paid") in kinds
    assert ("access", "deny") in kinds and ("access", "permit") in kinds


async def test_a_payment_for_no_priced_agreement_is_404(market: tuple[Node, Node]) -> None:
    city, _ = market
    status, _ = await city.admin("POST", "/payments", _payment("urn:uuid:nope"))
    assert status == 404
    assert (await city.admin("GET", "/payments"))[1] == []


async def test_two_payments_at_once_pay_the_period_once(
    overdue_market: tuple[Node, Node],
) -> None:
    import asyncio

    city, company = overdue_market
    agreement_id, _ = await _buy_and_start(city, company)
    results = await asyncio.gather(
        *(
            city.admin("POST", "/payments", _payment(agreement_id, reference=f"INV-{i}"))
            for i in range(2)
        )
    )
    assert sorted(status for status, _ in results) == [201, 409], results
    assert len((await city.admin("GET", f"/payments?agreementId={agreement_id}"))[1]) == 1
