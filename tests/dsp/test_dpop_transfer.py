"""A DPoP offer (tokenBinding: dpop): the TransferRequestMessage must name the consumer's key,
and every PULL token of the transfer (start and refresh) is bound to it."""

from __future__ import annotations

import jwt
import pytest
from sqlalchemy import func, select

from connector.dsp import messages as m
from connector.dsp.tables import transfers
from identity.dpop import key_thumbprint
from tests.dsp.helpers import OPEN_POLICY, Node, signed, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def _agreed(city: Node, company: Node, binding: str) -> str:
    status, ds = await city.admin(
        "POST", "/datasets", {"title": "Air", "entityTypes": ["AirQualityObserved"]}
    )
    assert status == 201, ds
    status, pol = await city.admin("POST", "/policies", OPEN_POLICY)
    assert status == 201, pol
    status, offer = await city.admin(
        "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"], "tokenBinding": binding}
    )
    assert status == 201 and offer["tokenBinding"] == binding, offer
    status, neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.dsp_url, "offer": offer["offer"], "target": ds["id"]},
    )
    assert status == 201, neg
    mine = await wait_for(company.negotiation, neg["id"], {"FINALIZED"})
    return str(mine["agreementId"])


async def _provider_transfers(city: Node, consumer_pid: str) -> int:
    assert city.connector.ctx is not None
    async with city.connector.ctx.engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(transfers)
                    .where(transfers.c.consumer_pid == consumer_pid)
                )
            ).scalar_one()
        )


async def test_dpop_offer_refuses_a_request_without_the_consumer_key(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    agreement_id = await _agreed(city, company, "dpop")
    for cpid, jkt in (("urn:uuid:dpop-1", None), ("urn:uuid:dpop-2", "not-a-thumbprint")):
        msg = m.transfer_request(cpid, agreement_id, "NGSI-LD-PULL", company.dsp_url, None, jkt)
        status, body = await signed(company, city, "POST", "/transfers/request", msg)
        assert status == 400, body
        assert m.DPOP_JKT in body["reason"][0]
        assert await _provider_transfers(city, cpid) == 0


async def test_dpop_offer_binds_start_and_refreshed_tokens(shared: tuple[Node, Node]) -> None:
    city, company = shared
    agreement_id = await _agreed(city, company, "dpop")
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": agreement_id, "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    consumer = await wait_for(company.transfer, tr["id"], {"STARTED"}, field="providerPid")
    props = m.endpoint_properties(consumer["dataAddress"])
    assert props["authType"] == "dpop"
    expected = key_thumbprint(company.dsp.identity.key)
    claims = jwt.decode(props["authorization"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": expected}
    status, fresh = await signed(
        company, city, "POST", f"/transfers/{consumer['providerPid']}/token"
    )
    assert status == 200
    refreshed = m.endpoint_properties(fresh)
    assert refreshed["authType"] == "dpop"
    claims = jwt.decode(refreshed["authorization"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": expected}


async def test_bearer_offer_ignores_the_key_and_issues_bearer_tokens(
    shared: tuple[Node, Node],
) -> None:
    city, company = shared
    agreement_id = await _agreed(city, company, "bearer")
    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": agreement_id, "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    consumer = await wait_for(company.transfer, tr["id"], {"STARTED"}, field="providerPid")
    props = m.endpoint_properties(consumer["dataAddress"])
    assert props["authType"] == "bearer"
    claims = jwt.decode(props["authorization"], options={"verify_signature": False})
    assert "cnf" not in claims
