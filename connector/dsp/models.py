"""Request bodies of the DSP management API (plain JSON), validated with pydantic.

The same models feed the OpenAPI document, so what is validated is what is documented.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

#: The shapes of ODRL rules and DSP data addresses, for the document only: validation stays
#: with the DSP schemas and the ODRL parser (``management._check_policy``), which say more.
_CONSTRAINT: dict[str, Any] = {
    "type": "object",
    "description": "leftOperand operator rightOperand, or a logical constraint (and, or, xone)",
    "properties": {
        "leftOperand": {"type": "string", "examples": ["purpose", "dateTime", "count"]},
        "operator": {"type": "string", "examples": ["eq", "lteq", "isPartOf"]},
        "rightOperand": {
            "description": "a string, number or boolean, a typed literal {@value, @type}, or a"
            " list of them"
        },
        "unit": {"type": "string", "description": "odrl:unit, e.g. for a count per period"},
    },
}
_RULE: dict[str, Any] = {
    "type": "object",
    "description": "an ODRL rule in the compact DSP form",
    "properties": {
        "action": {
            "anyOf": [{"type": "string"}, {"type": "object"}],
            "examples": ["use", "read", "distribute"],
        },
        "constraint": {"type": "array", "items": _CONSTRAINT},
        "duty": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["action"],
}
Rules = Annotated[
    list[dict[str, Any]] | None,
    WithJsonSchema({"anyOf": [{"type": "array", "items": _RULE}, {"type": "null"}]}),
]
DataAddress = Annotated[
    dict[str, Any] | None,
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "object",
                    "description": "a DSP DataAddress: where the provider notifies (PUSH)",
                    "properties": {
                        "@type": {"const": "DataAddress"},
                        "endpointType": {
                            "type": "string",
                            "examples": ["https://w3id.org/idsa/v4.1/HTTP"],
                        },
                        "endpoint": {"type": "string"},
                        "endpointProperties": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "@type": {"const": "EndpointProperty"},
                                    "name": {"type": "string"},
                                    "value": {"type": "string"},
                                },
                                "required": ["@type", "name", "value"],
                            },
                        },
                    },
                    "required": ["@type", "endpointType", "endpoint"],
                },
                {"type": "null"},
            ]
        }
    ),
]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class HttpSourceIn(_In):
    """A plain HTTP source behind the PEP (a JSON file, a CSV export, a city REST endpoint):
    offered as HttpData only. The upstream's secret is write-only: never shown, never sent to
    a consumer."""

    url: str = Field(min_length=1, max_length=2000, description="the upstream URL (GET)")
    authorization: str | None = Field(
        default=None,
        max_length=4000,
        description="sent to the upstream as its Authorization header; never shown again",
    )
    media_type: str | None = Field(
        default=None,
        alias="mediaType",
        max_length=200,
        description="the answer's Content-Type (default: the upstream's)",
    )
    max_bytes: int = Field(
        default=16 * 1024 * 1024,
        alias="maxBytes",
        ge=1,
        le=64 * 1024 * 1024,
        description="larger upstream answers are refused (502)",
    )
    forward_query: bool = Field(
        default=False,
        alias="forwardQuery",
        description="pass the consumer's query string on to the upstream (a REST endpoint)",
    )


class DatasetIn(_In):
    """An NGSI-LD scope of this connector's broker, or a plain HTTP source (``source``),
    published as a DCAT dataset."""

    id: str | None = Field(default=None, max_length=300, description="default: a new urn:uuid")
    title: str = Field(min_length=1, max_length=500)
    description: str = Field(default="", max_length=5000)
    entity_types: list[str] = Field(
        default_factory=list,
        alias="entityTypes",
        max_length=100,
        description="entity type IRIs, or short names resolved against '@context' (default:"
        " the NGSI-LD core context alone, as NGSI-LD requests without a Link header); required"
        " unless the dataset has a 'source'",
    )
    source: HttpSourceIn | None = Field(
        default=None, description="an HTTP source instead of the broker: offered as HttpData"
    )
    attributes: list[str] | None = Field(default=None, max_length=500)
    context: Any = Field(
        default=None,
        alias="@context",
        description="the JSON-LD @context of the data (a bundled URL such as the Smart Data"
        " Models context, an inline object, or a list): short names expand as the data's do",
    )
    area: dict[str, Any] | None = Field(default=None, description="a GeoJSON geometry")
    license: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        pattern=r"^(https?://[^\s]+|[A-Za-z0-9][A-Za-z0-9.+-]*)$",
        description="open data: the licence (an SPDX id such as CC-BY-4.0, or its IRI); a"
        " free offer on a licensed dataset is a click-through, agreed without the operator",
    )


class DatasetPatch(_In):
    """The fields of a dataset to change. Its scope (entity types, attributes, area) changes only
    while no agreement grants it: an agreement's scope must not widen after it was made."""

    title: str | None = Field(default=None, min_length=1, max_length=500)
    description: str | None = Field(default=None, max_length=5000)
    entity_types: list[str] | None = Field(
        default=None, alias="entityTypes", min_length=1, max_length=100
    )
    attributes: list[str] | None = Field(default=None, max_length=500)
    area: dict[str, Any] | None = None
    license: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        pattern=r"^(https?://[^\s]+|[A-Za-z0-9][A-Za-z0-9.+-]*)$",
        description="the licence; null: no longer open data",
    )


class PolicyIn(_In):
    """ODRL rules in the compact DSP form (permission / prohibition / obligation)."""

    id: str | None = Field(default=None, max_length=300)
    profile: str | list[str] | None = None
    permission: Rules = None
    prohibition: Rules = None
    obligation: Rules = None


Choice = Literal["automatic", "manual"]


class ProviderChoices(_In):
    """The provider's decisions on requests for one offer (unset: the connector default of
    ``[dsp.decisions]``)."""

    agree: Choice | None = None
    offer: Choice | None = Field(default=None, description="answer other terms with our offer")
    finalize: Choice | None = None
    start_transfer: Choice | None = Field(default=None, alias="startTransfer")

    def stored(self) -> str | None:
        found = self.model_dump(by_alias=True, exclude_none=True)
        return json.dumps(found, sort_keys=True) if found else None


class ConsumerChoices(_In):
    """The consumer's decisions in one negotiation (unset: the connector default)."""

    accept_offer: Choice | None = Field(default=None, alias="acceptOffer")
    verify: Choice | None = None

    def stored(self) -> str | None:
        found = self.model_dump(by_alias=True, exclude_none=True)
        return json.dumps(found, sort_keys=True) if found else None


class OfferIn(_In):
    id: str | None = Field(default=None, max_length=300)
    dataset_id: str = Field(alias="datasetId", max_length=300)
    policy_id: str = Field(alias="policyId", max_length=300)
    approval: Literal["automatic", "manual"] = Field(
        default="automatic",
        description="manual: a request for this offer waits in REQUESTED for the operator's "
        "POST /negotiations/{pid}/agree, /offer or /terminate",
    )
    token_binding: Literal["bearer", "dpop"] = Field(
        default="bearer",
        alias="tokenBinding",
        description="dpop: pull access tokens are bound to the consumer's key (RFC 9449) and "
        "the data plane wants a DPoP proof with each request; bearer: whoever holds one",
    )
    decisions: ProviderChoices | None = Field(
        default=None, description="automatic or manual, per decision the provider takes"
    )


class Counterparty(_In):
    counter_party_address: str = Field(
        alias="counterPartyAddress", description="the peer's DSP base URL, e.g. https://x/dsp"
    )
    counter_party_id: str | None = Field(
        default=None, alias="counterPartyId", description="the peer's DID (default: did:web)"
    )


class CatalogRequestIn(Counterparty):
    pass


class DatasetRequestIn(Counterparty):
    dataset_id: str = Field(alias="datasetId")


class NegotiationIn(Counterparty):
    """Consumer: request an offer from the peer's catalog."""

    offer: dict[str, Any]
    target: str | None = Field(default=None, description="the dataset id if offer has no target")
    decisions: ConsumerChoices | None = Field(
        default=None, description="automatic or manual, per decision the consumer takes"
    )


class ProviderOfferIn(Counterparty):
    """Provider: offer one of our catalog offers to a consumer."""

    offer_id: str = Field(alias="offerId")


class CounterRequestIn(_In):
    offer: dict[str, Any]


class CounterOfferIn(_In):
    """Provider: other terms for a held request (ODRL rules in the compact DSP form)."""

    offer: dict[str, Any] = Field(
        description="permission / prohibition / obligation (a new @id is given to the offer)"
    )


class ReasonIn(_In):
    reason: str | None = Field(default=None, max_length=2000)


class TransferIn(_In):
    agreement_id: str = Field(alias="agreementId")
    format: Literal["NGSI-LD-PULL", "NGSI-LD-PUSH", "HttpData-PULL", "HttpData-PUSH"]
    data_address: DataAddress = Field(
        default=None, alias="dataAddress", description="PUSH: where the provider notifies"
    )


class DecisionIn(_In):
    reason: str | None = Field(default=None, max_length=2000, description="sent on decline")
