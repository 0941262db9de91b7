"""Answers of the DSP management API (plain JSON), as pydantic models for its OpenAPI document.

The handlers build these dicts themselves (``dataset_view`` and friends in
:mod:`connector.dsp.management`); the models say what a client can rely on, and the tests check
that real answers conform.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, TypeAdapter

from connector.http.routes import View

Role = Literal["provider", "consumer"]
Choice = Literal["automatic", "manual"]


class DatasetView(View):
    id: str
    title: str
    description: str
    entityTypes: list[str] = Field(description="full IRIs (short names expanded at creation)")
    attributes: list[str] | None
    area: dict[str, Any] | None = Field(description="a GeoJSON geometry")
    warnings: list[str] | None = Field(
        default=None, description="on creation: no stored entity has these types (a typo?)"
    )


class PolicyView(View):
    """A stored policy: its id and its ODRL rules in the compact DSP form."""

    id: str
    permission: list[dict[str, Any]] | None = None
    prohibition: list[dict[str, Any]] | None = None
    obligation: list[dict[str, Any]] | None = None
    profile: str | list[str] | None = None


class TemplateParameter(View):
    name: str
    type: str
    required: bool | None = None
    default: str | int | float | bool | list[str] | None = None


class TemplateView(View):
    name: str
    description: str
    parameters: list[TemplateParameter]


class OfferView(View):
    id: str
    datasetId: str
    policyId: str
    approval: Choice
    tokenBinding: Literal["bearer", "dpop"]
    decisions: dict[str, Choice]


class CreatedOfferView(OfferView):
    offer: dict[str, Any] = Field(description="the ODRL Offer as the DSP catalog shows it")


class DspCatalog(View):
    """A DSP 2025-1 Catalog (JSON-LD, compacted with the DSP context), every page merged."""

    context: Any = Field(alias="@context")
    id: str = Field(alias="@id")
    type: Literal["Catalog"] = Field(alias="@type")
    dataset: list[dict[str, Any]] | None = None


class DspDataset(View):
    """A DSP 2025-1 Dataset (JSON-LD) with its offers (``hasPolicy``)."""

    id: str = Field(alias="@id")
    type: str = Field(alias="@type")


class NegotiationView(View):
    id: str
    role: Role
    state: str = Field(description="a DSP negotiation state (REQUESTED … FINALIZED); '' unsent")
    providerPid: str | None
    consumerPid: str | None
    counterPartyId: str
    counterPartyAddress: str | None
    datasetId: str | None
    offer: dict[str, Any] | None
    agreementId: str | None
    awaitingApproval: bool
    pendingDecision: str | None
    error: str | None
    createdAt: str
    updatedAt: str


class AgreementView(View):
    id: str
    negotiationId: str
    providerId: str
    consumerId: str
    target: str
    agreement: dict[str, Any] = Field(description="the ODRL Agreement")
    signature: str | None = Field(description="the provider's signature (JWS), if any")
    createdAt: str


class TransferView(View):
    id: str
    role: Role
    state: str = Field(description="a DSP transfer state (REQUESTED, STARTED, …); '' unsent")
    providerPid: str | None
    consumerPid: str | None
    agreementId: str
    format: str
    counterPartyId: str
    dataAddress: dict[str, Any] | None
    pendingDecision: str | None
    error: str | None
    createdAt: str
    updatedAt: str


class DecisionView(View):
    """A decision waiting for the operator."""

    id: str = Field(description="the negotiation's or transfer's id")
    process: Literal["negotiation", "transfer"]
    decision: str
    role: Role
    state: str
    providerPid: str | None
    consumerPid: str | None
    counterPartyId: str
    since: str | None


class EdrView(View):
    """The consumer's endpoint data reference: where to pull and with which token."""

    transferId: str
    agreementId: str
    endpoint: str | None
    endpointType: str | None
    authorization: str | None
    authType: str
    expiresAt: str | None


DATASETS = TypeAdapter(list[DatasetView])
POLICIES = TypeAdapter(list[PolicyView])
TEMPLATES = TypeAdapter(list[TemplateView])
OFFERS = TypeAdapter(list[OfferView])
NEGOTIATIONS = TypeAdapter(list[NegotiationView])
AGREEMENTS = TypeAdapter(list[AgreementView])
TRANSFERS = TypeAdapter(list[TransferView])
DECISIONS = TypeAdapter(list[DecisionView])
PROCESS = TypeAdapter(NegotiationView | TransferView)
