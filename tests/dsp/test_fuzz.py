"""Mutated messages (keys removed, values of the wrong type or size) never make a DSP endpoint
answer 5xx: every one is either accepted or refused with the protocol's error message."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from connector.dsp import messages as m
from connector.dsp.validation import validate
from tests.dsp.helpers import Node, insert_negotiation, insert_transfer, signed

pytestmark = pytest.mark.asyncio(loop_scope="module")

WRONG: list[Any] = [None, 5, True, [], {}, "x" * 5000, [{"@id": 1}]]
OFFER = {
    "@id": "urn:uuid:o",
    "@type": "Offer",
    "target": "urn:uuid:ds",
    "permission": [{"action": "use"}],
}


def mutations(message: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key in list(message):
        gone = copy.deepcopy(message)
        del gone[key]
        out.append(gone)
        for value in WRONG:
            changed = copy.deepcopy(message)
            changed[key] = value
            out.append(changed)
        inner = message[key]
        if isinstance(inner, dict):
            for sub in list(inner):
                for value in [None, 7, [], "y" * 3000]:
                    nested = copy.deepcopy(message)
                    nested[key][sub] = value
                    out.append(nested)
    return out


def _area(path: str) -> str:
    return "TransferError" if path.startswith("/transfers") else "ContractNegotiationError"


async def _check(origin: Node, receiver: Node, path: str, msgs: list[dict[str, Any]]) -> None:
    for msg in msgs:
        status, body = await signed(origin, receiver, "POST", path, msg)
        assert status < 500, (path, msg, body)
        if status >= 400 and status != 401 and isinstance(body, dict):
            validate(_area(path), body)


async def test_negotiation_endpoints_never_fail_with_5xx(shared: tuple[Node, Node]) -> None:
    city, company = shared
    row = await insert_negotiation(city, role="provider", state="OFFERED", peer=company)
    ppid, cpid = row["providerPid"], row["consumerPid"]
    await _check(
        company,
        city,
        "/negotiations/request",
        mutations(m.contract_request("urn:uuid:f", OFFER, callback_address=company.dsp_url)),
    )
    await _check(
        company,
        city,
        f"/negotiations/{ppid}/request",
        mutations(m.contract_request(cpid, OFFER, provider_pid=ppid)),
    )
    await _check(
        company,
        city,
        f"/negotiations/{ppid}/events",
        mutations(m.negotiation_event(ppid, cpid, "ACCEPTED")),
    )
    mine = await insert_negotiation(company, role="consumer", state="REQUESTED", peer=city)
    agreement = {
        "@id": "urn:uuid:a",
        "@type": "Agreement",
        "target": "urn:uuid:ds",
        "assigner": city.did,
        "assignee": company.did,
        "timestamp": "2026-01-01T00:00:00Z",
        "permission": [{"action": "use"}],
    }
    msg = m.contract_agreement(mine["providerPid"], mine["consumerPid"], agreement)
    await _check(city, company, f"/negotiations/{mine['pid']}/agreement", mutations(msg))
    await _check(
        city,
        company,
        "/negotiations/offers",
        mutations(m.contract_offer("urn:uuid:p", OFFER, callback_address=city.dsp_url)),
    )


async def test_transfer_endpoints_never_fail_with_5xx(shared: tuple[Node, Node]) -> None:
    city, company = shared
    row = await insert_transfer(city, role="provider", state="STARTED", peer=company)
    ppid, cpid = row["providerPid"], row["consumerPid"]
    address = m.data_address("https://uri.etsi.org/ngsi-ld/v1", company.url + "/n")
    await _check(
        company,
        city,
        "/transfers/request",
        mutations(
            m.transfer_request("urn:uuid:t", "urn:uuid:a", "NGSI-LD-PUSH", company.dsp_url, address)
        ),
    )
    await _check(
        company,
        city,
        f"/transfers/{ppid}/suspension",
        mutations(m.transfer_coded("TransferSuspensionMessage", ppid, cpid, "c", "r")),
    )
    mine = await insert_transfer(company, role="consumer", state="REQUESTED", peer=city)
    start = m.transfer_start(mine["providerPid"], mine["consumerPid"], address)
    await _check(city, company, f"/transfers/{mine['pid']}/start", mutations(start))
