"""Contract negotiation as provider and as consumer (TCK ground: CN), over loopback."""

from __future__ import annotations

import pytest

from connector.dsp import messages as m
from connector.dsp.agreements import sign_agreement
from connector.dsp.agreements import signed as with_sig
from connector.dsp.tables import negotiations
from connector.dsp.validation import validate
from tests.dsp.helpers import (
    Node,
    db_state,
    insert_negotiation,
    negotiate,
    signed,
    wait_for,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_provider_reports_the_negotiation_to_its_consumer(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, theirs = await negotiate(city, company)
    status, body = await signed(company, city, "GET", f"/negotiations/{theirs['id']}")
    assert status == 200
    validate("ContractNegotiation", body)
    assert body["state"] == "FINALIZED"
    status, body = await signed(city, company, "GET", f"/negotiations/{mine['id']}")
    assert status == 200 and body["state"] == "FINALIZED"
    # somebody else (the provider asking about its own process) gets 404, not the process
    status, body = await signed(city, city, "GET", f"/negotiations/{theirs['id']}")
    assert status == 404
    validate("ContractNegotiationError", body)


async def test_provider_initiated_negotiation(shared: tuple[Node, Node]) -> None:
    city, company = shared
    _, offer_id, _ = await city.publish()
    status, neg = await city.admin(
        "POST",
        "/negotiations/offers",
        {"counterPartyAddress": company.dsp_url, "offerId": offer_id},
    )
    assert status == 201, neg
    theirs = await wait_for(city.negotiation, neg["id"], {"OFFERED"}, field="consumerPid")
    mine = await wait_for(company.negotiation, theirs["consumerPid"], {"OFFERED"})
    status, accepted = await company.admin("POST", f"/negotiations/{mine['id']}/accept")
    assert status == 200 and accepted["state"] == "ACCEPTED"
    await wait_for(company.negotiation, mine["id"], {"FINALIZED"})
    await wait_for(city.negotiation, neg["id"], {"FINALIZED"})


async def test_counter_offer_then_accept(shared: tuple[Node, Node]) -> None:
    city, company = shared
    dataset_id, _, offer = await city.publish()
    wishful = {**offer, "permission": [{"action": "use"}, {"action": "distribute"}]}
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": wishful, "target": dataset_id},
    )
    assert status == 201
    mine = await wait_for(company.negotiation, neg["id"], {"OFFERED"}, field="providerPid")
    assert mine["offer"]["permission"] == offer["permission"]  # the provider's counter-offer
    # the consumer counters back with the provider's own terms: the provider agrees
    status, body = await company.admin(
        "POST", f"/negotiations/{mine['id']}/request", {"offer": mine["offer"]}
    )
    assert status == 200 and body["state"] == "REQUESTED"
    await wait_for(company.negotiation, mine["id"], {"FINALIZED"})
    await wait_for(city.negotiation, mine["providerPid"], {"FINALIZED"})


@pytest.mark.parametrize("who", ["consumer", "provider"])
async def test_termination_by_either_side(shared: tuple[Node, Node], who: str) -> None:
    city, company = shared
    dataset_id, _, offer = await city.publish()
    wishful = {**offer, "permission": [{"action": "distribute"}]}
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": wishful, "target": dataset_id},
    )
    mine = await wait_for(company.negotiation, neg["id"], {"OFFERED"}, field="providerPid")
    node, pid = (company, mine["id"]) if who == "consumer" else (city, mine["providerPid"])
    status, body = await node.admin("POST", f"/negotiations/{pid}/terminate", {"reason": "no"})
    assert status == 200 and body["state"] == "TERMINATED"
    await wait_for(company.negotiation, mine["id"], {"TERMINATED"})
    await wait_for(city.negotiation, mine["providerPid"], {"TERMINATED"})
    # a terminal state is final
    status, body = await company.admin("POST", f"/negotiations/{mine['id']}/accept")
    assert status == 409


async def test_policy_the_consumer_cannot_meet_terminates(shared: tuple[Node, Node]) -> None:
    city, company = shared
    expired = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": "dateTime",
                        "operator": "lt",
                        "rightOperand": "2020-01-01T00:00:00Z",
                    }
                ],
            }
        ]
    }
    mine, theirs = await negotiate(city, company, expired)
    assert mine["state"] == theirs["state"] == "TERMINATED"
    assert "2020" in theirs["error"]
    assert theirs["agreementId"] is None and mine["agreementId"] is None


INITIAL = "/negotiations/request"


def _initial(
    offer: dict[str, object], callback: str, cpid: str = "urn:uuid:c-1"
) -> dict[str, object]:
    return m.contract_request(cpid, offer, callback_address=callback)


async def test_unknown_offer_is_refused_and_nothing_stored(shared: tuple[Node, Node]) -> None:
    city, company = shared
    dataset_id, _, offer = await city.publish()
    bogus = {**offer, "@id": "urn:uuid:unknown", "target": dataset_id}
    before = len((await city.admin("GET", "/negotiations"))[1])
    status, body = await signed(company, city, "POST", INITIAL, _initial(bogus, company.dsp_url))
    assert status == 400
    validate("ContractNegotiationError", body)
    assert body["code"] == "UnknownOffer"
    assert len((await city.admin("GET", "/negotiations"))[1]) == before


@pytest.mark.parametrize(
    "callback",
    [
        "https://evil.example.com/cb",
        "http://10.0.0.1/cb",
        "ftp://127.0.0.1/cb",
        "http://user:pw@127.0.0.1/cb",
        "not a url",
    ],
)
async def test_callback_to_a_host_not_allowed_is_refused(
    shared: tuple[Node, Node], callback: str
) -> None:
    city, company = shared
    dataset_id, _, offer = await city.publish()
    before = len((await city.admin("GET", "/negotiations"))[1])
    status, body = await signed(
        company, city, "POST", INITIAL, _initial({**offer, "target": dataset_id}, callback)
    )
    assert status == 400
    validate("ContractNegotiationError", body)
    assert body["code"] == "CallbackAddressRefused"
    assert len((await city.admin("GET", "/negotiations"))[1]) == before


async def test_callback_trailing_slash_is_tolerated(shared: tuple[Node, Node]) -> None:
    city, company = shared
    dataset_id, _, offer = await city.publish()
    msg = _initial({**offer, "target": dataset_id}, company.dsp_url + "/")
    status, body = await signed(company, city, "POST", INITIAL, msg)
    assert status == 201
    validate("ContractNegotiation", body)
    assert body["state"] == "REQUESTED"


async def test_identical_retry_is_idempotent(shared: tuple[Node, Node]) -> None:
    city, company = shared
    dataset_id, _, offer = await city.publish()
    msg = _initial({**offer, "target": dataset_id}, company.dsp_url, cpid="urn:uuid:retry")
    before = len((await city.admin("GET", "/negotiations"))[1])
    first = await signed(company, city, "POST", INITIAL, msg)
    again = await signed(company, city, "POST", INITIAL, msg)
    assert first[0] == again[0] == 201
    assert first[1]["providerPid"] == again[1]["providerPid"]
    assert len((await city.admin("GET", "/negotiations"))[1]) == before + 1
    # a different message reusing the consumerPid is refused
    other = _initial({**offer, "target": dataset_id}, company.dsp_url + "/x", cpid="urn:uuid:retry")
    status, _ = await signed(company, city, "POST", INITIAL, other)
    assert status == 400
    # a retried termination is acknowledged once and then again, without a second transition
    row = await insert_negotiation(city, role="provider", state="OFFERED", peer=company)
    term = m.negotiation_termination(row["providerPid"], row["consumerPid"], "x", "bye")
    path = f"/negotiations/{row['pid']}/termination"
    assert (await signed(company, city, "POST", path, term))[0] == 200
    status, body = await signed(company, city, "POST", path, term)
    assert status == 200 and body["state"] == "TERMINATED"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (INITIAL, {"@type": "ContractRequestMessage"}),
        (INITIAL, {"@context": m.DSP_CONTEXT, "@type": "ContractRequestMessage"}),
        (INITIAL, {**m.negotiation_event("a", "b", "ACCEPTED")}),
        ("/negotiations/{pid}/events", {**m.negotiation_event("a", "b", "REJECTED")}),
        ("/negotiations/{pid}/termination", {"@type": "ContractNegotiationTerminationMessage"}),
        ("/negotiations/{pid}/request", "just a string"),
        ("/negotiations/{pid}/agreement/verification", None),
    ],
)
async def test_schema_invalid_messages_are_400(
    shared: tuple[Node, Node], path: str, body: object
) -> None:
    city, company = shared
    row = await insert_negotiation(city, role="provider", state="OFFERED", peer=company)
    if body is None:
        status, answer = await signed(
            company, city, "POST", path.format(pid=row["pid"]), raw=b"\xff\xfe"
        )
    else:
        status, answer = await signed(company, city, "POST", path.format(pid=row["pid"]), body)
    assert status == 400
    validate("ContractNegotiationError", answer)
    assert await db_state(city, negotiations, row["pid"]) == "OFFERED"


async def test_ids_must_match_the_process(shared: tuple[Node, Node]) -> None:
    city, company = shared
    row = await insert_negotiation(city, role="provider", state="OFFERED", peer=company)
    event = m.negotiation_event(row["providerPid"], "urn:uuid:someone-else", "ACCEPTED")
    status, body = await signed(company, city, "POST", f"/negotiations/{row['pid']}/events", event)
    assert status == 400, body
    assert await db_state(city, negotiations, row["pid"]) == "OFFERED"


async def test_an_agreement_id_cannot_be_reused_across_negotiations(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    first, _ = await negotiate(city, company)
    row = await insert_negotiation(company, role="consumer", state="REQUESTED", peer=city)
    agreement = {
        "@id": first["agreementId"],
        "@type": "Agreement",
        "target": "urn:uuid:ds",
        "assigner": city.did,
        "assignee": company.did,
        "timestamp": "2026-01-01T00:00:00Z",
        "permission": [{"action": "use"}],
    }
    jws = sign_agreement(city.dsp.identity, agreement)  # validly signed: only the id is wrong
    msg = m.contract_agreement(row["providerPid"], row["consumerPid"], with_sig(agreement, jws))
    status, body = await signed(city, company, "POST", f"/negotiations/{row['pid']}/agreement", msg)
    assert status == 400, body
    assert "another negotiation" in body["reason"][0]
    assert await db_state(company, negotiations, row["pid"]) == "REQUESTED"
