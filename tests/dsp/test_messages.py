"""Everything we put on the wire validates against the bundled DSP 2025-1 schemas; the bundled
schemas accept the specification's own examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.dsp import messages as m
from connector.dsp.errors import Area, Code, DspError
from connector.dsp.validation import SCHEMA_FOR_TYPE, SchemaViolation, validate

EXAMPLES = Path(__file__).resolve().parents[2] / "connector" / "dsp" / "schemas"
OFFER = {
    "@id": "urn:uuid:o",
    "@type": "Offer",
    "target": "urn:uuid:d",
    "permission": [{"action": "use"}],
}
AGREEMENT = {
    "@id": "urn:uuid:a",
    "@type": "Agreement",
    "target": "urn:uuid:d",
    "assigner": "did:web:p",
    "assignee": "did:web:c",
    "timestamp": "2026-01-01T00:00:00Z",
    "permission": [{"action": "use"}],
}
ADDRESS = m.data_address(
    "https://uri.etsi.org/ngsi-ld/v1",
    "http://x/ngsi-ld/v1",
    {"authorization": "t", "authType": "bearer"},
)

OUTGOING = [
    m.contract_request("c", OFFER, callback_address="http://x/dsp"),
    m.contract_request("c", OFFER, provider_pid="p"),
    m.contract_offer("p", OFFER, callback_address="http://x/dsp"),
    m.contract_offer("p", OFFER, consumer_pid="c"),
    m.contract_agreement("p", "c", AGREEMENT),
    m.agreement_verification("p", "c"),
    m.negotiation_event("p", "c", "ACCEPTED"),
    m.negotiation_event("p", "c", "FINALIZED"),
    m.negotiation_termination("p", "c", "x", "why"),
    m.negotiation_termination("p", "c"),
    m.negotiation("p", "c", "REQUESTED"),
    m.transfer_request("c", "a", "NGSI-LD-PULL", "http://x/dsp"),
    m.transfer_request("c", "a", "NGSI-LD-PUSH", "http://x/dsp", ADDRESS),
    m.transfer_start("p", "c", ADDRESS),
    m.transfer_start("p", "c"),
    m.transfer_coded("TransferSuspensionMessage", "p", "c", "x", "why"),
    m.transfer_coded("TransferCompletionMessage", "p", "c"),
    m.transfer_coded("TransferTerminationMessage", "p", "c", "x", "why"),
    m.transfer_process("p", "c", "STARTED"),
]


@pytest.mark.parametrize("message", OUTGOING, ids=lambda d: str(d["@type"]))
def test_outgoing_messages_validate(message: dict[str, object]) -> None:
    validate(str(message["@type"]), message)


@pytest.mark.parametrize("area", list(Area))
def test_error_bodies_validate(area: Area) -> None:
    error = DspError(area, 400, Code.SCHEMA, "bad", provider_pid="p", consumer_pid="c")
    body = error.body()
    validate(area.value, body)
    assert body["code"] == "SchemaViolation" and body["reason"] == ["bad"]
    assert json.loads(error.response().text or "")["@type"] == area.value
    assert error.response().content_type == "application/json"


def test_every_schema_is_bundled_and_loads() -> None:
    for rel in SCHEMA_FOR_TYPE.values():
        assert (EXAMPLES / rel).exists()
    with pytest.raises(SchemaViolation):
        validate("TransferTerminationMessage", {"@type": "TransferTerminationMessage"})
    with pytest.raises(SchemaViolation):
        validate("ContractRequestMessage", m.contract_offer("p", OFFER, consumer_pid="c"))


def test_messages_expand_with_bundled_contexts_only() -> None:
    from pyld import jsonld

    from connector.dsp.contexts import UnknownContext, document_loader, pyld_options

    msg = m.contract_request("urn:c", OFFER, callback_address="http://x/dsp")
    expanded = jsonld.expand(msg, pyld_options())
    (node,) = expanded
    assert node["@type"] == ["https://w3id.org/dspace/2025/1/ContractRequestMessage"]
    offer = node["https://w3id.org/dspace/2025/1/offer"][0]
    assert offer["@type"] == ["http://www.w3.org/ns/odrl/2/Offer"]
    with pytest.raises(jsonld.JsonLdError) as exc:
        jsonld.expand({"@context": "https://example.com/ctx", "a": 1}, pyld_options())
    assert exc.value.code == "loading remote context failed"
    with pytest.raises(UnknownContext):
        document_loader("https://example.com/ctx")


def _offer(left: str, op: str, right: object) -> dict[str, object]:
    rule = {
        "action": "use",
        "constraint": [{"leftOperand": left, "operator": op, "rightOperand": right}],
    }
    return {"@id": "urn:uuid:o", "@type": "Offer", "permission": [rule]}


CT = "https://w3id.org/agora/policy#credentialType"
MEMBER = ({"type": ["VerifiableCredential", "MembershipCredential"]},)


@pytest.mark.parametrize(
    ("offer", "credentials", "permit"),
    [
        ({"@id": "urn:uuid:o", "@type": "Offer", "permission": [{"action": "use"}]}, (), True),
        (_offer(CT, "isAnyOf", ["MembershipCredential"]), MEMBER, True),
        (_offer(CT, "isAnyOf", ["AuditorCredential"]), MEMBER, False),
        (_offer(CT, "isAnyOf", ["MembershipCredential"]), (), False),
        (_offer("https://example.com/unknown", "eq", "x"), (), False),
        (_offer("dateTime", "lt", "2020-01-01T00:00:00Z"), (), False),
        (_offer("purpose", "eq", "research"), (), True),  # decided per request by the PEP
        (_offer("count", "lteq", "10"), (), True),
    ],
)
async def test_provider_decisions(
    offer: dict[str, object], credentials: tuple[dict[str, object], ...], permit: bool
) -> None:
    from connector.dsp.auth import Caller
    from connector.dsp.decisions import PoliciesDecider

    decision = await PoliciesDecider().decide(offer, "urn:uuid:d", Caller("did:web:x", credentials))
    assert decision.permit is permit, decision.reason
