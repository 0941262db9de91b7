"""The provider's decision to agree includes the payment condition of a priced plan.

Wraps the DSP decider (``connector.dsp.decisions``): the ODRL check runs first, then, for an
offer derived from one of our priced offerings, the payment methods are asked in turn. A consumer
that meets none is refused: the negotiation terminates with a reason naming the price and why
the condition is not met — a plain DSP peer that ignores the pricing profile still reads it.
The price itself is not an ODRL decision here: ``policies`` does not evaluate compensate duties
against payments yet (see ``payments``), so this gate is explicit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from connector.dsp.auth import Caller
from connector.dsp.decisions import Decision, OfferDecider
from connector.dsp.extensions import EXTENSIONS
from connector.market import store
from connector.market.payments import PaymentMethod
from connector.storage.inline import Database
from marketplace.errors import MarketplaceError
from marketplace.plans import FreePlan
from marketplace.views.dsp import amount_text

#: the DSP termination code of a refusal for an unmet payment condition
PAYMENT_REQUIRED: Final = "PaymentRequired"


def price_text(plan: Any) -> str:
    """``49.00 EUR per P1M`` — the plan's price in a sentence."""
    cur = plan.money
    amount = getattr(plan, "price", None) or getattr(plan, "rate", None)
    text = f"plan '{plan.id}' ({plan.kind})"
    if amount is not None:
        text += f" costs {amount_text(amount, cur)} {cur.code}"
        unit = getattr(plan, "unit", None)
        if unit and plan.kind != "recurring":
            text += f" per {unit}"
        period = getattr(plan, "period", None)
        if period:
            text += f" (billed {period})"
    return text


class PaymentDecider:
    """An :class:`OfferDecider` that adds the payment condition to the inner decision."""

    def __init__(
        self,
        inner: OfferDecider,
        db: Database,
        methods: list[PaymentMethod],
        resolver: Callable[[], Any] | None = None,
    ) -> None:
        self.inner = inner
        self.db = db
        self.methods = methods
        #: gives the DID resolver (set late by the dsp component) for the consumer's document
        self.resolver = resolver

    async def extensions_of(self, did: str) -> frozenset[str]:
        """The Agora extensions ``did`` lists on its DSP service entry (none if unresolvable)."""
        resolver = self.resolver() if self.resolver is not None else None
        if resolver is None:
            return frozenset()
        try:
            document = await resolver.resolve(did)
        except Exception:  # an unresolvable consumer advertises nothing
            return frozenset()
        found: set[str] = set()
        for service in document.services:
            listed = service.properties.get(EXTENSIONS) if service.type == "DataService" else None
            if isinstance(listed, str):
                listed = [listed]
            if isinstance(listed, list):
                found.update(x for x in listed if isinstance(x, str))
        return frozenset(found)

    async def plan_of(self, offer_id: Any) -> Any | None:
        parsed = store.parse_offer_id(offer_id)
        if parsed is None:
            return None
        oid, version, plan_id = parsed
        async with self.db.connect() as conn:
            offering = await store.version_of(conn, oid, version)
        if offering is None:
            return None
        try:
            return offering.plan(plan_id).plan
        except MarketplaceError:
            return None

    async def decide(self, offer: dict[str, Any], target: str, caller: Caller) -> Decision:
        decision = await self.inner.decide(offer, target, caller)
        if not decision.permit:
            return decision
        plan = await self.plan_of(offer.get("@id"))
        if plan is None or isinstance(plan, FreePlan):
            return decision
        why_not = []
        extensions = await self.extensions_of(caller.did)
        for method in self.methods:
            reason = method.condition(caller.did, plan, extensions)
            if reason is None:
                return Decision(
                    True,
                    f"{decision.reason}; payment by {method.name}: {price_text(plan)}",
                    decision.report,
                )
            why_not.append(f"{method.name}: {reason}")
        return Decision(
            False,
            f"payment condition not met: {price_text(plan)}; "
            + ("; ".join(why_not) or "this connector accepts no payment method"),
            decision.report,
            PAYMENT_REQUIRED,
        )
