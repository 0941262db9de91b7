"""Prepaid in the ERC-20 demo token on the embedded chain: pay, verify, open access."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.market.payments.evm import (
    TokenChain,
    deploy_token,
    embedded_chain,
    reference,
    units,
)
from tests.dsp.helpers import Node, start_node, wait_for
from tests.market.test_payments import _pull, buy, start

pytestmark = pytest.mark.asyncio(loop_scope="module")

ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"


async def _order(node: Node, pid: str) -> dict[str, Any]:
    async with node.http.get(
        f"{node.url}{ORDERS}/{pid}", headers={"Authorization": f"Bearer {node.admin_key}"}
    ) as resp:
        assert resp.status == 200
        found: dict[str, Any] = await resp.json()
        return found


def _account(n: int) -> str:
    w3, _ = embedded_chain()
    found: list[str] = list(w3.eth.accounts)
    return found[n]


def _chain() -> tuple[TokenChain, str, str]:
    w3, token = embedded_chain()
    return TokenChain(w3, token), _account(0), _account(1)


async def _to_provider(company: Node, city: Node, agreement_id: str, body: Any) -> tuple[int, Any]:
    token = await company.dsp.issuer.token_for(city.did)
    url = f"{city.url}/market/v1/agreements/{agreement_id}/payment"
    async with company.http.post(
        url, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw) if raw else None


async def test_pay_then_use(evm_market: tuple[Node, Node]) -> None:
    city, company = evm_market
    chain, payer, payee = _chain()
    before = chain.balance(payee)
    neg = await buy(city, company, until="VERIFIED")
    agreement_id = neg["agreementId"]
    # unpaid, the city holds the negotiation in VERIFIED: the order is in progress, no transfer
    await wait_for(city.negotiation, neg["providerPid"], {"VERIFIED"})
    order = await _order(company, neg["id"])
    assert order["state"] == "inProgress"
    assert order["productOrderItem"][0]["product"]["status"] == "pendingActive"
    status, refused = await company.admin(
        "POST", "/transfers", {"agreementId": agreement_id, "format": "NGSI-LD-PULL"}
    )
    assert status == 409, refused
    status, paid = await company.admin("POST", "/market/pay", {"agreementId": agreement_id})
    assert status == 201, paid
    assert paid["amount"] == "49.00" and paid["payee"] == payee
    assert chain.balance(payee) - before == 4900
    await wait_for(company.negotiation, neg["id"], {"FINALIZED"})
    assert (await _order(company, neg["id"]))["state"] == "completed"
    transfer_id = await start(company, agreement_id)
    status, body = await _pull(company, transfer_id)
    assert status == 200 and len(body) == 2
    for node, action in ((city, "payment:received"), (company, "payment:sent")):
        status, ledger = await node.admin("GET", f"/ledger/records?agreement={agreement_id}")
        actions = [r["record"]["action"] for r in ledger["records"]]
        assert action in actions, (node.did, actions)
    status, received = await city.admin("GET", f"/payments?agreementId={agreement_id}")
    assert [(p["method"], p["reference"]) for p in received] == [("evm", paid["transaction"])]
    # the same transaction handed over again is a replay
    status, problem = await _to_provider(
        company, city, agreement_id, {"transaction": paid["transaction"], "payer": payer}
    )
    assert status == 409, problem
    assert len((await city.admin("GET", f"/payments?agreementId={agreement_id}"))[1]) == 1


async def test_wrong_payments_are_refused_and_nothing_stored(
    evm_market: tuple[Node, Node],
) -> None:
    city, company = evm_market
    chain, payer, payee = _chain()
    neg = await buy(city, company, until="VERIFIED")
    agreement_id = neg["agreementId"]
    ref = reference(agreement_id)
    due = units(Decimal("49.00"), chain.decimals)
    other_w3, _ = embedded_chain()
    other_token = TokenChain(other_w3, deploy_token(other_w3, payer, "Other", "OTH", 2, 10**9))
    chain.transfer(payer, _account(2), 10_000)  # a third party with tokens
    cases = [
        ("amount", chain.pay(payer, payee, due - 100, ref), payer),
        ("reference", chain.pay(payer, payee, due, reference("urn:uuid:other")), payer),
        ("payee", chain.pay(payer, _account(3), due, ref), payer),
        ("payer", chain.pay(_account(2), payee, due, ref), payer),
        ("token", chain.transfer(payer, payee, due), payer),
        ("token", other_token.pay(payer, payee, due, ref), payer),
        ("transaction", "0x" + "ab" * 32, payer),
    ]
    for field, tx, claimed in cases:
        status, problem = await _to_provider(
            company, city, agreement_id, {"transaction": tx, "payer": claimed}
        )
        assert status == 400, (field, problem)
        assert problem["field"] == field, (field, problem)
    status, _ = await _to_provider(company, city, agreement_id, {"transaction": "nope"})
    assert status == 400
    assert (await city.admin("GET", "/payments"))[1] == []
    status, acc = await city.admin("GET", f"/agreements/{agreement_id}/account")
    assert acc["status"] == "suspended" and acc["method"] == "evm"
    assert (await city.negotiation(neg["providerPid"]))["state"] == "VERIFIED"


async def test_only_the_agreements_consumer_is_served(evm_market: tuple[Node, Node]) -> None:
    city, company = evm_market
    agreement_id = (await buy(city, company, until="VERIFIED"))["agreementId"]
    # the city asking itself about the company's agreement: not its agreement as consumer
    token = await city.dsp.issuer.token_for(city.did)
    url = f"{city.url}/market/v1/agreements/{agreement_id}/payment"
    async with city.http.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 404
    async with city.http.get(url) as resp:
        assert resp.status == 401


@pytest.mark.evm_node
async def test_pay_then_use_on_ganache(ganache_market: tuple[Node, Node, str]) -> None:
    city, company, token = ganache_market
    neg = await buy(city, company, until="VERIFIED")
    agreement_id = neg["agreementId"]
    status, paid = await company.admin("POST", "/market/pay", {"agreementId": agreement_id})
    assert status == 201, paid
    assert paid["token"].lower() == token.lower()
    await wait_for(company.negotiation, neg["id"], {"FINALIZED"})
    transfer_id = await start(company, agreement_id)
    status, body = await _pull(company, transfer_id)
    assert status == 200 and len(body) == 2
    status, problem = await _to_provider(
        company, city, agreement_id, {"transaction": paid["transaction"], "payer": paid["payee"]}
    )
    assert status == 409, problem


async def test_a_peer_that_never_pays_is_terminated_with_the_reason(tmp_path: Path) -> None:
    """A consumer that says it prepays through evm but never does: agreed, held VERIFIED, then
    terminated — PaymentRequired. (One that does not say so is refused at once, see
    test_plain_peer.)"""
    async with aiohttp.ClientSession() as http:
        peer = await start_node(
            tmp_path,
            "peer",
            "company",
            http=http,
            extra={"marketplace": {"evm_chain": "embedded", "evm_account": "embedded:4"}},
        )
        city = await start_node(
            tmp_path,
            "city",
            "city",
            http=http,
            extra={
                "marketplace": {
                    "evm_chain": "embedded",
                    "evm_account": "embedded:1",
                    "evm_payment_timeout_s": 1,
                }
            },
        )
        try:
            neg = await buy(city, peer, until="VERIFIED")
            mine = await wait_for(peer.negotiation, neg["id"], {"TERMINATED"}, within=30)
            assert "payment required" in mine["error"] and "49.00 EUR" in mine["error"]
            theirs = await city.negotiation(neg["providerPid"])
            assert theirs["state"] == "TERMINATED"
            assert (await city.admin("GET", "/payments"))[1] == []
            assert (await _order(peer, neg["id"]))["state"] == "failed"
        finally:
            await city.connector.stop()
            await peer.connector.stop()
