"""Bodies and answers of the market's management routes, for the OpenAPI document.

The handlers validate with the marketplace's own models (:mod:`marketplace.offerings`) and
build their answers as dicts; these models say what a client sends and gets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from connector.http.routes import View
from marketplace.offerings import Offering
from marketplace.plans import PricePlan


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: PricePlan
    terms: dict[str, Any] | str = Field(
        description="the ODRL rules of this plan (compact DSP form), or their JSON text"
    )


class OfferingIn(Offering):
    """A new offering (a draft, version 1)."""

    id: str | None = Field(  # type: ignore[assignment]
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$", description="default: new"
    )
    plans: tuple[PlanIn, ...] = Field(default=(), max_length=20)  # type: ignore[assignment]


class OfferingPatch(BaseModel):
    """The fields to change; a published offering edited becomes its next version."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    category: list[str] | None = None
    dataset_id: str | None = None
    plans: list[PlanIn] | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


class PlanView(View):
    plan: PricePlan
    terms: dict[str, Any]


class OfferingView(View):
    id: str
    version: int
    dataset_id: str
    name: str
    description: str
    category: list[str]
    lifecycle: Literal["draft", "published", "retired"]
    valid_from: str | None
    valid_to: str | None
    plans: list[PlanView]
    offers: list[dict[str, Any]] = Field(description="the DSP offers, one per plan")


class PaymentView(View):
    id: str
    agreementId: str
    method: str = Field(description="invoice | evm")
    amount: str = Field(description="a decimal, written exactly")
    currency: str
    reference: str
    payer: str


class RecordedPaymentView(PaymentView):
    periodStart: str


class DueView(View):
    periodStart: str
    amount: str
    currency: str


class AccountView(View):
    status: Literal["active", "suspended"]
    reason: str | None
    periodsBilled: int
    periodsPaid: int
    nextDue: DueView | None
    method: str


class SentPaymentView(View):
    agreementId: str
    method: Literal["evm"]
    transaction: str
    amount: str
    currency: str
    payee: str
    token: str


class OfferingsQuery(BaseModel):
    lifecycle: Literal["draft", "published", "retired"] | None = None
    datasetId: str | None = None


class VersionQuery(BaseModel):
    version: int | None = Field(default=None, ge=1, description="default: the current one")


class PaymentsQuery(BaseModel):
    agreementId: str | None = None


OFFERINGS = TypeAdapter(list[OfferingView])
PAYMENTS = TypeAdapter(list[PaymentView])
