"""Transfer processes as provider and as consumer (TCK ground: TP), PULL tokens for the PEP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from connector.dsp import messages as m
from connector.dsp.access_tokens import AccessDenied, verify_access_token
from connector.dsp.tables import outbox, received, transfers
from connector.dsp.validation import validate
from tests.dsp.helpers import Node, db_state, negotiate, signed, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _started(
    city: Node, company: Node, fmt: str = "NGSI-LD-PULL", **extra: object
) -> tuple[dict, dict]:
    mine, _ = await negotiate(city, company)
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": mine["agreementId"], "format": fmt, **extra}
    )
    assert status == 201, tr
    consumer = await wait_for(company.transfer, tr["id"], {"STARTED"}, field="providerPid")
    provider = await wait_for(city.transfer, consumer["providerPid"], {"STARTED"})
    return consumer, provider


def _token(consumer_view: dict) -> str:
    return m.endpoint_properties(consumer_view["dataAddress"])["authorization"]


async def test_pull_transfer_hands_a_token_bound_to_the_agreement(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    consumer, provider = await _started(city, company)
    address = consumer["dataAddress"]
    assert address["endpoint"] == city.url + "/ngsi-ld/v1"
    props = m.endpoint_properties(address)
    assert props["authType"] == "bearer"
    assert city.connector.ctx is not None
    grant = await verify_access_token(city.connector.ctx, props["authorization"])
    assert grant.agreement_id == consumer["agreementId"]
    assert grant.transfer_id == provider["id"]
    assert grant.consumer_did == company.did
    assert grant.agreement["assignee"] == company.did
    # the provider reports the process to the consumer
    status, body = await signed(company, city, "GET", f"/transfers/{provider['id']}")
    assert status == 200
    validate("TransferProcess", body)
    assert body["state"] == "STARTED"
    # and refreshes the token while STARTED
    status, fresh = await signed(company, city, "POST", f"/transfers/{provider['id']}/token")
    assert status == 200
    assert m.endpoint_properties(fresh)["authorization"] != props["authorization"]


@pytest.mark.parametrize("who", ["consumer", "provider"])
async def test_suspend_resume_complete(shared: tuple[Node, Node], who: str) -> None:
    city, company = shared
    consumer, provider = await _started(city, company)
    token = _token(consumer)
    node, pid = (company, consumer["id"]) if who == "consumer" else (city, provider["id"])
    status, body = await node.admin("POST", f"/transfers/{pid}/suspend", {"reason": "pause"})
    assert status == 200 and body["state"] == "SUSPENDED"
    await wait_for(company.transfer, consumer["id"], {"SUSPENDED"})
    await wait_for(city.transfer, provider["id"], {"SUSPENDED"})
    with pytest.raises(AccessDenied):  # suspension revokes access at once
        await city.dsp.tokens.verify_access_token(token)
    status, body = await node.admin("POST", f"/transfers/{pid}/resume")
    assert status == 200 and body["state"] == "STARTED"
    resumed = await wait_for(company.transfer, consumer["id"], {"STARTED"})
    await wait_for(city.transfer, provider["id"], {"STARTED"})
    await city.dsp.tokens.verify_access_token(_token(resumed))
    status, body = await node.admin("POST", f"/transfers/{pid}/complete")
    assert status == 200 and body["state"] == "COMPLETED"
    await wait_for(company.transfer, consumer["id"], {"COMPLETED"})
    await wait_for(city.transfer, provider["id"], {"COMPLETED"})
    with pytest.raises(AccessDenied):
        await city.dsp.tokens.verify_access_token(token)
    status, _ = await node.admin("POST", f"/transfers/{pid}/resume")
    assert status == 409  # terminal


@pytest.mark.parametrize("who", ["consumer", "provider"])
async def test_terminate(shared: tuple[Node, Node], who: str) -> None:
    city, company = shared
    consumer, provider = await _started(city, company)
    node, pid = (company, consumer["id"]) if who == "consumer" else (city, provider["id"])
    status, body = await node.admin("POST", f"/transfers/{pid}/terminate", {"reason": "done"})
    assert status == 200 and body["state"] == "TERMINATED"
    await wait_for(company.transfer, consumer["id"], {"TERMINATED"})
    await wait_for(city.transfer, provider["id"], {"TERMINATED"})
    with pytest.raises(AccessDenied):
        await city.dsp.tokens.verify_access_token(_token(consumer))


async def test_push_transfer_records_the_consumer_endpoint(shared: tuple[Node, Node]) -> None:
    city, company = shared
    endpoint = m.data_address("https://uri.etsi.org/ngsi-ld/v1", company.url + "/notify")
    consumer, provider = await _started(city, company, "NGSI-LD-PUSH", dataAddress=endpoint)
    assert provider["dataAddress"]["endpoint"] == company.url + "/notify"
    assert consumer["dataAddress"] is None


async def test_transfer_request_needs_a_finalized_agreement_of_the_caller(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    bad = m.transfer_request(
        "urn:uuid:t-1", "urn:uuid:no-agreement", "NGSI-LD-PULL", company.dsp_url
    )
    status, body = await signed(company, city, "POST", "/transfers/request", bad)
    assert status == 400
    validate("TransferError", body)
    assert body["code"] == "UnknownAgreement"
    mine, _ = await negotiate(city, company)
    wrong = m.transfer_request(
        "urn:uuid:t-2", mine["agreementId"], "AmazonS3-PUSH", company.dsp_url
    )
    status, body = await signed(company, city, "POST", "/transfers/request", wrong)
    assert status == 400 and body["code"] == "UnsupportedFormat"
    evil = m.transfer_request(
        "urn:uuid:t-3", mine["agreementId"], "NGSI-LD-PULL", "https://evil.example/cb"
    )
    status, body = await signed(company, city, "POST", "/transfers/request", evil)
    assert status == 400 and body["code"] == "CallbackAddressRefused"
    push = m.transfer_request(
        "urn:uuid:t-5",
        mine["agreementId"],
        "NGSI-LD-PUSH",
        company.dsp_url,
        m.data_address("https://uri.etsi.org/ngsi-ld/v1", "http://169.254.169.254/latest"),
    )
    status, body = await signed(company, city, "POST", "/transfers/request", push)
    assert status == 400 and body["code"] == "CallbackAddressRefused"
    # the provider itself (another DID, with its own callback) may not use the company's agreement
    ok = m.transfer_request("urn:uuid:t-4", mine["agreementId"], "NGSI-LD-PULL", city.dsp_url)
    status, body = await signed(city, city, "POST", "/transfers/request", ok)
    assert status == 400 and body["code"] == "UnknownAgreement"


async def test_identical_transfer_request_is_idempotent(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, _ = await negotiate(city, company)
    msg = m.transfer_request(
        "urn:uuid:t-idem", mine["agreementId"], "NGSI-LD-PULL", company.dsp_url
    )
    first = await signed(company, city, "POST", "/transfers/request", msg)
    again = await signed(company, city, "POST", "/transfers/request", msg)
    assert first[0] == again[0] == 201
    assert first[1]["providerPid"] == again[1]["providerPid"]
    # one process, started once (the company never asked through its own API, so it answers
    # the TransferStartMessage with 404 and the city may terminate the process right after)
    assert city.connector.ctx is not None
    async with city.connector.ctx.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(transfers.c.pid).where(transfers.c.consumer_pid == "urn:uuid:t-idem")
            )
        ).all()
    assert [r.pid for r in rows] == [first[1]["providerPid"]]
    assert await db_state(city, transfers, first[1]["providerPid"]) in ("STARTED", "TERMINATED")
    assert len(await _outbox(city, first[1]["providerPid"], "TransferStartMessage")) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"@type": "TransferRequestMessage"},
        {
            **m.transfer_request("c", "a", "NGSI-LD-PULL", "http://127.0.0.1/cb"),
            "callbackAddress": 5,
        },
        m.transfer_start("a", "b"),
    ],
)
async def test_schema_invalid_transfer_requests_are_400(
    shared: tuple[Node, Node], body: dict
) -> None:
    city, company = shared
    status, answer = await signed(company, city, "POST", "/transfers/request", body)
    assert status == 400
    validate("TransferError", answer)


async def test_both_ledgers_log_the_agreement_and_the_transfer(shared: tuple[Node, Node]) -> None:
    city, company = shared
    consumer, _ = await _started(city, company)
    agreement_id = consumer["agreementId"]
    for node in (city, company):
        for _ in range(100):
            status, body = await node.admin("GET", f"/ledger/records?agreement={agreement_id}")
            assert status == 200, body
            records = body.get("records", body) if isinstance(body, dict) else body
            actions = {r["record"]["action"] if "record" in r else r["action"] for r in records}
            if {"negotiation:FINALIZED", "transfer:STARTED"} <= actions:
                break
            await asyncio.sleep(0.05)
        assert {"negotiation:FINALIZED", "transfer:STARTED"} <= actions, (node.did, records)


async def _outbox(node: Node, pid: str, message_type: str) -> list[Any]:
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        found = await conn.execute(
            select(outbox.c.body, outbox.c.status)
            .where(outbox.c.process_pid == pid, outbox.c.message_type == message_type)
            .order_by(outbox.c.id)
        )
        return list(found.all())


async def test_a_retried_request_of_a_started_transfer_resends_the_start(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    consumer, provider = await _started(city, company)
    [request] = await _outbox(company, consumer["id"], "TransferRequestMessage")
    retry = json.loads(request.body)
    # the consumer lost the start (say, restored from a backup taken before it arrived)
    assert company.connector.ctx is not None
    async with company.connector.ctx.engine.begin() as conn:
        await conn.execute(
            update(transfers)
            .where(transfers.c.pid == consumer["id"])
            .values(state="REQUESTED", data_address=None)
        )
        await conn.execute(delete(received).where(received.c.process_pid == consumer["id"]))
    status, body = await signed(company, city, "POST", "/transfers/request", retry)
    assert status == 201 and body["providerPid"] == provider["id"], body
    again = await wait_for(company.transfer, consumer["id"], {"STARTED"}, field="dataAddress")
    assert _token(again) == _token(consumer)  # the very start message, sent again
    # a retry when the consumer has the start already: acknowledged, nothing moves
    status, body = await signed(company, city, "POST", "/transfers/request", retry)
    assert status == 201, body
    for _ in range(200):
        starts = await _outbox(city, provider["id"], "TransferStartMessage")
        if len(starts) == 3 and all(s.status == "sent" for s in starts):
            break
        await asyncio.sleep(0.05)
    assert [s.status for s in starts] == ["sent"] * 3, starts
    assert len({s.body for s in starts}) == 1
    assert await db_state(city, transfers, provider["id"]) == "STARTED"
    assert await db_state(company, transfers, consumer["id"]) == "STARTED"
