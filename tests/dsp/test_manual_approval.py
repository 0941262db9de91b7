"""Manual approval: a request for an offer published with ``approval: manual`` waits in
REQUESTED until the provider's operator agrees, counter-offers or terminates; terms a consumer
makes up are never agreed to as they stand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.dsp.helpers import OPEN_POLICY, Node, count_agreements, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")

FIVE_USES = {
    "permission": [
        {
            "action": "use",
            "constraint": [{"leftOperand": "count", "operator": "lteq", "rightOperand": "5"}],
        }
    ]
}


async def publish(city: Node, approval: str | None) -> tuple[str, dict[str, Any]]:
    status, ds = await city.admin(
        "POST", "/datasets", {"title": "Air", "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201, ds
    status, pol = await city.admin("POST", "/policies", OPEN_POLICY)
    assert status == 201, pol
    body = {"datasetId": ds["id"], "policyId": pol["id"]}
    if approval:
        body["approval"] = approval
    status, offer = await city.admin("POST", "/offers", body)
    assert status == 201, offer
    assert offer["approval"] == (approval or "automatic")
    return ds["id"], offer["offer"]


async def held(city: Node, company: Node) -> tuple[dict[str, Any], dict[str, Any]]:
    """A request for a manual offer: (consumer view, provider view), the provider holding it."""
    dataset_id, offer = await publish(city, "manual")
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": offer, "target": dataset_id},
    )
    assert status == 201, neg
    # the provider decides while answering the request, so once the consumer has the
    # providerPid the provider's decision (here: to wait) is made
    mine = await wait_for(company.negotiation, neg["id"], {"REQUESTED"}, field="providerPid")
    theirs = await city.negotiation(mine["providerPid"])
    assert theirs["state"] == "REQUESTED" and theirs["awaitingApproval"] is True, theirs
    assert theirs["agreementId"] is None
    return mine, theirs


async def test_the_operator_agrees(shared: tuple[Node, Node]) -> None:
    city, company = shared
    before = await count_agreements(city)
    mine, theirs = await held(city, company)
    assert await count_agreements(city) == before
    status, body = await city.admin("POST", f"/negotiations/{theirs['id']}/agree")
    assert status == 200 and body["state"] == "AGREED", body
    assert body["awaitingApproval"] is False
    done = await wait_for(company.negotiation, mine["id"], {"FINALIZED"})
    await wait_for(city.negotiation, theirs["id"], {"FINALIZED"})
    status, agreement = await company.admin("GET", f"/agreements/{done['agreementId']}")
    assert status == 200 and agreement["signature"], agreement
    # agreeing twice is a conflict, not a second agreement
    status, body = await city.admin("POST", f"/negotiations/{theirs['id']}/agree")
    assert status == 409, body


async def test_the_operator_counter_offers(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, theirs = await held(city, company)
    status, body = await city.admin(
        "POST", f"/negotiations/{theirs['id']}/offer", {"offer": FIVE_USES}
    )
    assert status == 200 and body["state"] == "OFFERED", body
    offered = await wait_for(company.negotiation, mine["id"], {"OFFERED"})
    assert offered["offer"]["permission"] == FIVE_USES["permission"]
    status, body = await company.admin("POST", f"/negotiations/{mine['id']}/accept")
    assert status == 200, body
    done = await wait_for(company.negotiation, mine["id"], {"FINALIZED"})
    status, agreement = await city.admin("GET", f"/agreements/{done['agreementId']}")
    assert status == 200
    assert agreement["agreement"]["permission"] == FIVE_USES["permission"]


async def test_the_operator_terminates(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, theirs = await held(city, company)
    status, body = await city.admin(
        "POST", f"/negotiations/{theirs['id']}/terminate", {"reason": "not for you"}
    )
    assert status == 200 and body["state"] == "TERMINATED", body
    await wait_for(company.negotiation, mine["id"], {"TERMINATED"})


async def test_bad_operator_calls(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, theirs = await held(city, company)
    status, body = await company.admin("POST", f"/negotiations/{mine['id']}/agree")
    assert status == 409, body  # the consumer cannot agree on the provider's behalf
    status, body = await city.admin(
        "POST", f"/negotiations/{theirs['id']}/offer", {"offer": {"permission": "all"}}
    )
    assert status == 400, body
    assert (await city.negotiation(theirs["id"]))["state"] == "REQUESTED"
    status, body = await city.admin("POST", "/negotiations/urn:uuid:none/agree")
    assert status == 404, body


async def test_made_up_terms_are_countered_not_agreed(shared: tuple[Node, Node]) -> None:
    city, company = shared
    dataset_id, offer = await publish(city, None)  # automatic
    wishful = {**offer, "permission": [{"action": "use"}, {"action": "distribute"}]}
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": wishful, "target": dataset_id},
    )
    assert status == 201, neg
    mine = await wait_for(company.negotiation, neg["id"], {"OFFERED"}, field="providerPid")
    # the consumer counters with the same wishful terms under an id of its own
    invented = {**wishful, "@id": "urn:uuid:my-own-terms"}
    status, body = await company.admin(
        "POST", f"/negotiations/{mine['id']}/request", {"offer": invented}
    )
    assert status == 200, body
    again = await wait_for(company.negotiation, mine["id"], {"OFFERED", "AGREED", "FINALIZED"})
    theirs = await city.negotiation(mine["providerPid"])
    assert theirs["agreementId"] is None and theirs["state"] == "OFFERED", theirs
    assert again["state"] == "OFFERED"
    assert again["offer"]["permission"] == offer["permission"]
