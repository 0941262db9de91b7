"""The provider's signature on the agreement travels in the ContractAgreementMessage; the
consumer accepts and keeps the agreement only if the signature is the provider's over exactly
these terms."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import select

from connector.dsp import messages as m
from connector.dsp.agreements import (
    SIGNATURE,
    build_agreement,
    check_signature,
    sign_agreement,
    signed,
)
from connector.dsp.tables import agreements, negotiations
from connector.dsp.validation import validate
from identity.did_document import DidDocument
from tests.dsp.helpers import (
    Node,
    count_agreements,
    db_state,
    insert_negotiation,
    negotiate,
)
from tests.dsp.helpers import (
    signed as dsp_call,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

LIMITED = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {"leftOperand": "count", "operator": "lteq", "rightOperand": "10"},
            ],
        }
    ]
}


def document_of(node: Node) -> DidDocument:
    return DidDocument.parse(node.dsp.identity.did_document(), node.did)


async def stored(node: Node, agreement_id: str) -> Any:
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        return (
            await conn.execute(select(agreements).where(agreements.c.id == agreement_id))
        ).first()


async def test_the_consumer_keeps_the_providers_signature(shared: tuple[Node, Node]) -> None:
    city, company = shared
    mine, _ = await negotiate(city, company, LIMITED)
    assert mine["state"] == "FINALIZED", mine
    status, theirs = await company.admin("GET", f"/agreements/{mine['agreementId']}")
    assert status == 200, theirs
    status, ours = await city.admin("GET", f"/agreements/{mine['agreementId']}")
    assert status == 200, ours
    assert theirs["signature"] and theirs["signature"] == ours["signature"]
    assert theirs["agreement"] == ours["agreement"] and SIGNATURE not in theirs["agreement"]
    check_signature(theirs["signature"], theirs["agreement"], document_of(city))
    _, payload, _ = theirs["signature"].split(".")
    assert payload == ""  # detached: the agreement itself is the payload


async def _consumer_side(city: Node, company: Node) -> tuple[dict[str, str], dict[str, Any]]:
    row = await insert_negotiation(company, role="consumer", state="REQUESTED", peer=city)
    agreement = build_agreement(
        {"@id": "urn:uuid:o", **LIMITED},
        target="urn:uuid:ds",
        assigner=city.did,
        assignee=company.did,
    )
    return row, agreement


async def test_a_valid_signature_is_accepted(shared: tuple[Node, Node]) -> None:
    city, company = shared
    row, agreement = await _consumer_side(city, company)
    jws = sign_agreement(city.dsp.identity, agreement)
    msg = m.contract_agreement(row["providerPid"], row["consumerPid"], signed(agreement, jws))
    validate("ContractAgreementMessage", msg)  # the extension property keeps the schema
    status, body = await dsp_call(
        city, company, "POST", f"/negotiations/{row['pid']}/agreement", msg
    )
    assert status == 200, body
    found = await stored(company, agreement["@id"])
    assert found.signature == jws and json.loads(found.agreement) == agreement


@pytest.mark.parametrize("case", ["tampered", "missing", "other signer", "garbage"])
async def test_a_bad_signature_is_refused_and_nothing_stored(
    shared: tuple[Node, Node], case: str
) -> None:
    city, company = shared
    row, agreement = await _consumer_side(city, company)
    jws = sign_agreement(city.dsp.identity, agreement)
    sent = signed(agreement, jws)
    if case == "tampered":  # the consumer is promised 1000 uses instead of 10
        sent = copy.deepcopy(sent)
        sent["permission"][0]["constraint"][0]["rightOperand"] = "1000"
    elif case == "missing":
        del sent[SIGNATURE]
    elif case == "other signer":  # signed by the consumer itself, claiming to be the city
        sent = signed(agreement, sign_agreement(company.dsp.identity, agreement))
    else:
        sent = {**sent, SIGNATURE: "not.a.jws"}
    before = await count_agreements(company)
    msg = m.contract_agreement(row["providerPid"], row["consumerPid"], sent)
    status, body = await dsp_call(
        city, company, "POST", f"/negotiations/{row['pid']}/agreement", msg
    )
    assert status == 400, body
    validate("ContractNegotiationError", body)
    assert body["code"] == "AgreementSignatureInvalid", body
    assert await count_agreements(company) == before
    assert await stored(company, agreement["@id"]) is None
    assert await db_state(company, negotiations, row["pid"]) == "REQUESTED"
