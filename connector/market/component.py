"""The marketplace component: stores priced offerings and mounts their views.

* ``tables`` / ``store``  offering versions (migration 0015_market)
* ``management``  /api/v1/offerings: create, read, update, delete, list, publish, retire
* ``catalog``  the DSP catalog's hasPolicy offers, derived from the published offerings (through
  the ``connector.dsp.catalog.OfferSource`` seam)
* ``decisions``  the provider agrees to a priced offer only when a payment method's condition
  holds (the ``payments`` seam; ``invoice`` built in)
* ``billing``  payments received on account (``POST /api/v1/payments``), checked for amount,
  currency and replay, logged on the ledger; the PEP gate that suspends an overdue agreement
* ``evm_payments``  prepayment in an ERC-20 token (``payments.evm``): the consumer pays what it
  agreed to, the provider verifies the receipt before access opens
* ``tmf``  TMF620 productOffering / productOfferingPrice and the TMF622 productOrder view
* ``usage``  metered usage of usage-priced agreements per billing period, as TMF635 Usage
"""

from __future__ import annotations

from aiohttp import web

from connector.dsp.catalog import add_offer_source
from connector.dsp.extensions import ADVERTISED
from connector.dsp.runtime import Dsp
from connector.enforcement.component import GATES, METERS
from connector.http.context import ConnectorContext
from connector.management.api import MANAGEMENT_APP
from connector.market.billing import InvoiceGate, Payments
from connector.market.catalog import OfferingSource
from connector.market.decisions import PaymentDecider
from connector.market.evm_payments import EVM_PREPAYMENT, Evm, EvmConsumer, EvmProvider
from connector.market.expiry import expire_forever
from connector.market.management import add_routes
from connector.market.payments import PaymentMethod
from connector.market.payments.invoice import Invoice
from connector.market.settings import market_settings
from connector.market.tmf import _admin as tmf_admin
from connector.market.tmf import tmf_app
from connector.market.usage import UsageMeter, add_usage_routes

TMF_PATH = "/tmf-api"


class MarketComponent:
    name = "market"

    def __init__(self) -> None:
        self._expiry: tuple[Dsp, Payments, float] | None = None

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        dsp: Dsp | None = ctx.components.get("dsp")
        if dsp is None:
            ctx.log.warning("market: no dsp component; offerings are not mounted")
            return
        settings = market_settings(ctx.settings)
        invoice = Invoice(settings)
        methods: list[PaymentMethod] = [invoice]
        evm = Evm.from_settings(settings)
        if evm is not None:
            methods.append(evm)
        dsp.decider = PaymentDecider(dsp.decider, ctx.db, methods, lambda: dsp.resolver)
        add_offer_source(OfferingSource())
        add_routes(root[MANAGEMENT_APP])
        gate = InvoiceGate(ctx, invoice)
        ledger = Payments(ctx, invoice, gate)
        ledger.add_routes(root[MANAGEMENT_APP])
        dsp.finalize_hold = ledger.hold  # a prepaid plan is finalized once it is paid
        ctx.components.setdefault(GATES, []).append(gate)  # the PEP asks it per request
        if evm is not None:
            # our DID document says we pay in advance through evm (see decisions)
            ctx.components.setdefault(ADVERTISED, []).append(EVM_PREPAYMENT)
            self._expiry = (dsp, ledger, settings.evm_payment_timeout_s)
            EvmProvider(dsp, evm, ledger).add_routes(root)
            EvmConsumer(ctx, dsp, evm).add_routes(root[MANAGEMENT_APP])
        ctx.components.setdefault(METERS, []).append(UsageMeter(ctx))  # usage-priced plans
        tmf = tmf_app(dsp)
        add_usage_routes(tmf, ctx, tmf_admin)
        root.add_subapp(TMF_PATH, tmf)

    async def start(self, ctx: ConnectorContext) -> None:
        if self._expiry is not None:
            dsp, ledger, timeout = self._expiry
            ctx.tasks.spawn(expire_forever(dsp, ledger, timeout, ctx.log), name="market-expiry")

    async def stop(self) -> None:
        return None
