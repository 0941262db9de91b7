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


class DspSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authentication: Literal["dcp", "self-issued"] = "dcp"
    access_token_ttl_s: int = Field(default=600, ge=30, le=86_400)
    #: Delivered outbox rows and message digests of ended processes are kept this long.
    retention_days: float = Field(default=30.0, gt=0)


def dsp_settings(settings: Settings) -> DspSettings:
    return component_settings(settings, "dsp", DspSettings)
