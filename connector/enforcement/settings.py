"""The ``[policies]`` section of agora.toml: how the data plane enforces usage control.

``record_before_answer`` (default true): an access under an agreement is answered only once its
provenance record is durable (the ledger's append returns after the commit). Set it to false to
answer as soon as the record is queued for the ledger's next group commit: throughput improves,
but a crash in the few milliseconds before that commit loses the records of accesses already
answered (usage counters stay exact either way: a unit is always consumed durably before the
answer). Environment: ``AGORA_POLICIES_RECORD_BEFORE_ANSWER=false``.

``deletion_interval_s``: how often the consumer's deletion job looks for copies past their
``delete`` duty's deadline (it also wakes at the next known deadline).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Settings, component_settings


class EnforcementSettings(BaseModel):
    model_config = ConfigDict(extra="ignore")  # the section may carry other policies keys

    record_before_answer: bool = True
    deletion_interval_s: float = Field(default=1.0, gt=0, le=3600)


def enforcement_settings(settings: Settings) -> EnforcementSettings:
    return component_settings(settings, "policies", EnforcementSettings)
