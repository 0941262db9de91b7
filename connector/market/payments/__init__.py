"""The ``PaymentMethod`` seam: how a consumer meets a priced plan's payment condition.

A method answers, when the provider decides whether to agree, whether this consumer meets the
plan's payment condition (``None``) or why not (a sentence the DSP termination carries), given
the Agora extensions the consumer advertises in its DID document (a plain DSP peer: none). The
built-in is :class:`~connector.market.payments.invoice.Invoice` (on account). The ``policies``
evaluation can later take this over: a payment is a compensate event in the state of the world.
"""

from __future__ import annotations

from typing import Any, Protocol


class PaymentMethod(Protocol):
    name: str

    def condition(self, payer_did: str, plan: Any, extensions: frozenset[str]) -> str | None:
        """``None`` when ``payer_did`` meets ``plan``'s payment condition; else why not."""
