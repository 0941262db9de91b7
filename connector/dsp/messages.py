"""Builders of the DSP 2025-1 messages we send, one function per message type.

Each returns a plain dict in the compacted form the DSP context produces, which is what the
JSON schemas describe; the outbox validates every one before it is stored.
"""

from __future__ import annotations

from typing import Any

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
PROTOCOL_VERSION = "2025-1"
#: Agora extension of TransferRequestMessage (PULL): the RFC 7638 thumbprint of the key the
#: consumer will sign DPoP proofs with, for an offer whose tokens are sender-constrained
DPOP_JKT = "https://w3id.org/agora/dsp#dpopJkt"


def _msg(type_: str, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": [DSP_CONTEXT], "@type": type_}
    doc.update({k: v for k, v in fields.items() if v is not None})
    return doc


def contract_request(
    consumer_pid: str,
    offer: dict[str, Any],
    *,
    provider_pid: str | None = None,
    callback_address: str | None = None,
) -> dict[str, Any]:
    return _msg(
        "ContractRequestMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        offer=offer,
        callbackAddress=callback_address,
    )


def contract_offer(
    provider_pid: str,
    offer: dict[str, Any],
    *,
    consumer_pid: str | None = None,
    callback_address: str | None = None,
) -> dict[str, Any]:
    return _msg(
        "ContractOfferMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        offer=offer,
        callbackAddress=callback_address,
    )


def contract_agreement(
    provider_pid: str, consumer_pid: str, agreement: dict[str, Any]
) -> dict[str, Any]:
    return _msg(
        "ContractAgreementMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        agreement=agreement,
    )


def agreement_verification(provider_pid: str, consumer_pid: str) -> dict[str, Any]:
    return _msg(
        "ContractAgreementVerificationMessage", providerPid=provider_pid, consumerPid=consumer_pid
    )


def negotiation_event(provider_pid: str, consumer_pid: str, event: str) -> dict[str, Any]:
    return _msg(
        "ContractNegotiationEventMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        eventType=event,
    )


def negotiation_termination(
    provider_pid: str, consumer_pid: str, code: str | None = None, reason: str | None = None
) -> dict[str, Any]:
    return _msg(
        "ContractNegotiationTerminationMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        code=code,
        reason=[reason] if reason else None,
    )


def negotiation(provider_pid: str, consumer_pid: str, state: str) -> dict[str, Any]:
    return _msg(
        "ContractNegotiation", providerPid=provider_pid, consumerPid=consumer_pid, state=state
    )


def transfer_request(
    consumer_pid: str,
    agreement_id: str,
    format_: str,
    callback_address: str,
    data_address: dict[str, Any] | None = None,
    dpop_jkt: str | None = None,
) -> dict[str, Any]:
    msg = _msg(
        "TransferRequestMessage",
        consumerPid=consumer_pid,
        agreementId=agreement_id,
        format=format_,
        dataAddress=data_address,
        callbackAddress=callback_address,
    )
    if dpop_jkt is not None:
        msg[DPOP_JKT] = dpop_jkt
    return msg


def transfer_start(
    provider_pid: str, consumer_pid: str, data_address: dict[str, Any] | None = None
) -> dict[str, Any]:
    return _msg(
        "TransferStartMessage",
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        dataAddress=data_address,
    )


def transfer_coded(
    type_: str,
    provider_pid: str,
    consumer_pid: str,
    code: str | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Suspension, completion or termination (completion carries no code/reason)."""
    if type_ == "TransferCompletionMessage":
        return _msg(type_, providerPid=provider_pid, consumerPid=consumer_pid)
    return _msg(
        type_,
        providerPid=provider_pid,
        consumerPid=consumer_pid,
        code=code,
        reason=[reason] if reason else None,
    )


def transfer_process(provider_pid: str, consumer_pid: str, state: str) -> dict[str, Any]:
    return _msg("TransferProcess", providerPid=provider_pid, consumerPid=consumer_pid, state=state)


def data_address(
    endpoint_type: str, endpoint: str, properties: dict[str, str] | None = None
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@type": "DataAddress",
        "endpointType": endpoint_type,
        "endpoint": endpoint,
    }
    if properties:
        doc["endpointProperties"] = [
            {"@type": "EndpointProperty", "name": k, "value": v} for k, v in properties.items()
        ]
    return doc


def endpoint_properties(address: dict[str, Any] | None) -> dict[str, str]:
    if not address:
        return {}
    return {str(p.get("name")): str(p.get("value")) for p in address.get("endpointProperties", [])}
