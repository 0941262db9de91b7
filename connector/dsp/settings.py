"""The ``[dsp]`` section of agora.toml.

``authentication`` chooses the implementation behind the DSP authentication seam:

* ``"dcp"`` (default): the full Decentralized Claims Protocol check of the trust component —
  self-issued ID token, then the caller's credentials fetched from its Credential Service and
  verified (signature, status, trusted issuer). Callers must be members of the data space.
* ``"self-issued"``: a development mode that verifies only the caller's self-issued ID token
  against its did:web document (no credentials). For tests and local experiments.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Settings, component_settings

Choice = Literal["automatic", "manual"]


class DecisionSettings(BaseModel):
    """Connector-wide defaults for the decisions DSP leaves to a participant's application
    (an offer may override the provider's, a negotiation request the consumer's), and what
    happens to a decision nobody takes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    #: provider: agree to a request for one of our offers (the policy check passed)
    agree: Choice = "automatic"
    #: provider: answer a request on other terms with our offer
    offer: Choice = "automatic"
    #: provider: finalize a verified agreement
    finalize: Choice = "automatic"
    #: provider: start a requested transfer
    start_transfer: Choice = Field(default="automatic", alias="startTransfer")
    #: consumer: accept the provider's offer
    accept_offer: Choice = Field(default="manual", alias="acceptOffer")
    #: consumer: verify the provider's agreement
    verify: Choice = "automatic"
    #: a pending decision older than this is taken by ``on_timeout`` (None: it waits)
    timeout_s: float | None = Field(default=None, gt=0)
    on_timeout: Literal["decline", "approve"] = "decline"
    #: POSTed a JSON view of each decision that starts waiting (an allowed callback host)
    webhook: str | None = None


class DspSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authentication: Literal["dcp", "self-issued"] = "dcp"
    access_token_ttl_s: int = Field(default=600, ge=30, le=86_400)
    #: Delivered outbox rows and message digests of ended processes are kept this long.
    retention_days: float = Field(default=30.0, gt=0)
    decisions: DecisionSettings = Field(default_factory=DecisionSettings)
    #: how often the consumer looks for tokens to renew before they expire
    edr_refresh_interval_s: float = Field(default=5.0, gt=0, le=3600)


def dsp_settings(settings: Settings) -> DspSettings:
    return component_settings(settings, "dsp", DspSettings)
