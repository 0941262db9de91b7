"""DSP error messages as HTTP answers: CatalogError, ContractNegotiationError, TransferError.

They subclass the foundation's :class:`Problem` so the error middleware renders them, but the
body is the DSP error message of the protocol area (``@context``, ``@type``, ``code``,
``reason``) as the HTTPS binding requires, served as ``application/json``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from connector.dsp.messages import DSP_CONTEXT
from connector.http.problems import Problem


class Area(StrEnum):
    CATALOG = "CatalogError"
    NEGOTIATION = "ContractNegotiationError"
    TRANSFER = "TransferError"


class Code(StrEnum):
    """Our ``code`` values: stable strings a peer (or a test) can branch on."""

    MALFORMED = "MalformedMessage"
    SCHEMA = "SchemaViolation"
    UNAUTHORIZED = "Unauthorized"
    NOT_FOUND = "NotFound"
    ILLEGAL_TRANSITION = "IllegalTransition"
    UNKNOWN_OFFER = "UnknownOffer"
    CALLBACK_REFUSED = "CallbackAddressRefused"
    POLICY_DENIED = "PolicyDenied"
    UNKNOWN_AGREEMENT = "UnknownAgreement"
    UNSUPPORTED_FORMAT = "UnsupportedFormat"
    UNSUPPORTED_FILTER = "UnsupportedFilter"
    MISMATCH = "ProcessMismatch"
    PUSH_REFUSED = "PushRefused"
    BAD_SIGNATURE = "AgreementSignatureInvalid"


class DspError(Problem):
    content_type = "application/json"

    def __init__(
        self,
        area: Area,
        status: int,
        code: Code,
        reason: str,
        *,
        provider_pid: str | None = None,
        consumer_pid: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, area.value, detail=reason, headers=headers)
        self.area = area
        self.code = code
        self.reason = reason
        self.provider_pid = provider_pid
        self.consumer_pid = consumer_pid

    def body(self, instance: str | None = None) -> dict[str, Any]:
        doc: dict[str, Any] = {"@context": [DSP_CONTEXT], "@type": self.area.value}
        if self.area is not Area.CATALOG:
            # The ids the request named (its body, else its path). The 2025-1 error schemas
            # require both properties, so an id nobody has assigned yet (the provider's, when
            # a first request is refused) can be neither omitted nor invented: it is "".
            doc["providerPid"] = self.provider_pid or ""
            doc["consumerPid"] = self.consumer_pid or ""
        doc["code"] = self.code.value
        doc["reason"] = [self.reason]
        return doc
