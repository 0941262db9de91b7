"""DSP over the full DCP check of the trust component: members negotiate and transfer, a
connector without membership credentials is refused on every DSP call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.dsp.validation import validate
from tests.dsp.helpers import Node, negotiate, signed, start_node, wait_for

IDENTITY = {
    "allow_http_hosts": ["127.0.0.1"],
    "status_list_ttl_s": 0,
    "trusted_issuers_ttl_s": 0,
    "did_cache_ttl_s": 0,
}
DCP = {"dsp": {"authentication": "dcp"}}
CREDENTIAL_TYPE = "https://w3id.org/agora/policy#credentialType"


async def _onboard(member: Node, authority: Node) -> None:
    status, body = await member.admin(
        "POST", "/membership", {"authority": authority.url, "country": "ES"}
    )
    assert status in (201, 202), body
    if body["state"] == "pending":  # the authority's operator vets a city
        status, approved = await authority.admin(
            "POST", f"/authority/requests/{body['requestId']}/approve"
        )
        assert status == 200, approved
    for _ in range(200):
        status, state = await member.admin("GET", "/membership")
        if status == 200 and state.get("credentials"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{member.did} was not admitted: {state}")


@pytest.fixture
async def members(tmp_path: Path) -> AsyncIterator[tuple[Node, Node, Node]]:
    async with aiohttp.ClientSession() as http:
        nodes: list[Node] = []

        async def add(name: str, role: str, identity: dict[str, Any]) -> Node:
            node = await start_node(
                tmp_path, name, role, http=http, extra={**DCP, "identity": identity}
            )
            nodes.append(node)
            return node

        try:
            authority = await add("authority", "authority", {**IDENTITY, "auto_approve": True})
            if "trust" not in authority.connector.ctx.components:  # type: ignore[union-attr]
                pytest.skip("the trust component is not mounted in this connector")
            city = await add("city", "city", IDENTITY)
            company = await add("company", "company", IDENTITY)
            await _onboard(city, authority)
            await _onboard(company, authority)
            yield authority, city, company
        finally:
            for node in reversed(nodes):
                await node.connector.stop()


async def test_members_negotiate_and_transfer_with_dcp(members: tuple[Node, Node, Node]) -> None:
    _, city, company = members
    mine, theirs = await negotiate(city, company)
    assert mine["state"] == theirs["state"] == "FINALIZED", (mine, theirs)
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": mine["agreementId"], "format": "NGSI-LD-PULL"}
    )
    assert status == 201
    await wait_for(company.transfer, tr["id"], {"STARTED"}, field="providerPid")
    # the provider decides on the caller's verified credentials (policies' evaluator)
    members_only = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": CREDENTIAL_TYPE,
                        "operator": "isAnyOf",
                        "rightOperand": ["MembershipCredential"],
                    }
                ],
            }
        ]
    }
    mine, theirs = await negotiate(city, company, members_only)
    assert mine["state"] == theirs["state"] == "FINALIZED", theirs
    auditors_only = {
        "permission": [
            {
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": CREDENTIAL_TYPE,
                        "operator": "isAnyOf",
                        "rightOperand": ["AuditorCredential"],
                    }
                ],
            }
        ]
    }
    mine, theirs = await negotiate(city, company, auditors_only)
    assert mine["state"] == theirs["state"] == "TERMINATED"
    assert "AuditorCredential" in theirs["error"]


async def test_a_self_issued_token_alone_is_not_enough(
    members: tuple[Node, Node, Node], tmp_path: Path
) -> None:
    _, city, _ = members
    outsider = await start_node(
        tmp_path,
        "outsider",
        "company",
        http=city.http,
        extra={"dsp": {"authentication": "self-issued"}, "identity": IDENTITY},
    )
    try:
        body = {
            "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "CatalogRequestMessage",
        }
        status, answer = await signed(outsider, city, "POST", "/catalog/request", body)
        assert status == 401
        validate("CatalogError", answer)
    finally:
        await outsider.connector.stop()
