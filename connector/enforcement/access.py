"""One data-plane request under an agreement, as the enforcement point decides it.

Kept apart from :mod:`connector.enforcement.pep` so that what records evidence and what
guards notifications can name the request without importing the enforcement point itself.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from connector.dsp.access_tokens import TransferGrant
from connector.enforcement.agreements import CompiledAgreement
from connector.ngsild.pep import AccessScope
from policies.report import CounterSpec
from policies.usage import ConsumeResult


@dataclass
class Access:
    """One data-plane request under an agreement: what was asked and what was decided."""

    grant: TransferGrant
    agreement: CompiledAgreement
    operation: str
    action: str
    decision: str = "deny"
    reason: str = ""
    scope: AccessScope | None = None
    pending_duties: tuple[str, ...] = ()
    state_checked: bool = False
    confirming: asyncio.Future[None] | None = None
    recorded: bool = False
    #: what each counter of the decision read when it was consumed (RateLimit headers)
    quotas: list[tuple[CounterSpec, ConsumeResult]] = field(default_factory=list)


ACCESS_KEY: web.RequestKey[Access] = web.RequestKey("agora.enforcement.access", Access)


class Refusal(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text
