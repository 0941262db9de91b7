"""EVM payments between two connectors, both sides.

Provider (routes at ``/market/v1``, the caller authenticated like a DSP peer, and only the
agreement's consumer served): ``GET …/agreements/{id}/payment`` says what is due and where to pay
(token, chain, payee, amount in token units, reference); ``POST`` the same path with
``{"transaction", "payer"}`` has the provider verify the receipt on the chain and record the
payment, which opens access (see ``billing.InvoiceGate``).

Consumer (``POST /api/v1/market/pay {"agreementId"}``, admin key): reads its own agreement's price
(``marketplace.views.dsp.plan_from_offer`` on the agreement — what it agreed to, not what the
provider now asks), asks the provider what is due, refuses to pay anything else, pays on the
chain, hands the transaction to the provider and logs the payment on its own ledger.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import insert, select

from connector.dsp.auth import AuthenticationFailed
from connector.dsp.negotiation_states import Role
from connector.dsp.runtime import BASE_PATH, Dsp
from connector.dsp.tables import agreements, negotiations
from connector.http.context import ConnectorContext
from connector.http.problems import Problem, read_json
from connector.http.routes import Route, add_routes
from connector.management.api import validation_problem
from connector.market import views as mv
from connector.market.billing import Payments, log_payment
from connector.market.payments.evm import (
    PAY_GAS,
    EvmPaymentError,
    TokenChain,
    embedded_chain,
    reference,
    units,
)
from connector.market.payments.invoice import periods
from connector.market.settings import MarketSettings
from connector.market.tables import payments
from marketplace.errors import MarketplaceError
from marketplace.plans import OneOffPlan, RecurringPlan
from marketplace.views.dsp import plan_from_offer

PREFIX = "/market/v1"
#: the DSP extension a consumer advertises when its connector pays in advance through ``evm``
#: (the payment exchange at ``/market/v1``): it understands the pricing profile and pays
EVM_PREPAYMENT = "https://w3id.org/agora/pricing#evmPrepayment"


class Evm:
    """This connector's chain, token and account, from ``[marketplace] evm_*``."""

    name = "evm"

    def __init__(self, chain: TokenChain, account: str, settings: MarketSettings) -> None:
        self.chain = chain
        self.account = account
        self.confirmations = settings.evm_confirmations
        self.currency = settings.evm_currency

    @classmethod
    def from_settings(cls, settings: MarketSettings) -> Evm | None:
        if not settings.evm_chain:
            return None
        if settings.evm_chain == "embedded":
            w3, token = embedded_chain()
            gas: int | None = PAY_GAS
        else:
            from ledger.anchor import http_web3

            w3, token, gas = http_web3(settings.evm_chain), settings.evm_token, None
        token = settings.evm_token or token
        account = settings.evm_account
        if account.startswith("embedded:") and account[9:].isdigit():
            account = w3.eth.accounts[int(account[9:])]
        if not account or not token:
            raise ValueError("[marketplace] evm_chain needs evm_account (and evm_token)")
        return cls(TokenChain(w3, token, gas), account, settings)

    def condition(self, payer_did: str, plan: Any, extensions: frozenset[str]) -> str | None:
        if not isinstance(plan, OneOffPlan | RecurringPlan):
            return "evm prepayment covers one-off and recurring plans only"
        if plan.currency != self.currency:
            return f"the evm token stands for {self.currency}, the plan is in {plan.currency}"
        if EVM_PREPAYMENT not in extensions:
            # a plain DSP peer cannot pay in advance: refuse now rather than hold the
            # negotiation until the payment timeout
            return (
                f"the price is paid in advance in the {self.currency} token, and {payer_did} "
                f"does not advertise the prepayment extension ({EVM_PREPAYMENT}) in its DID "
                "document"
            )
        return None


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction: str = Field(pattern=r"^0x[0-9a-fA-F]{64}$")
    payer: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")


class PayIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agreement_id: str = Field(alias="agreementId", max_length=300)


def _problem(exc: EvmPaymentError) -> Problem:
    return Problem(
        400,
        "Bad Request",
        detail=str(exc),
        type_="https://w3id.org/agora/problems/marketplace#EvmPaymentError",
        field=exc.field,
        expected=str(exc.expected),
        found=str(exc.found),
    )


class EvmProvider:
    """The provider's side: what is due, and the verification of a payment."""

    def __init__(self, dsp: Dsp, evm: Evm, ledger: Payments) -> None:
        self.dsp = dsp
        self.evm = evm
        self.payments = ledger

    async def _consumer(self, request: web.Request) -> tuple[str, Any, Any, Any]:
        try:
            caller = await self.dsp.authenticator.authenticate(request)
        except AuthenticationFailed as exc:
            raise Problem(401, "Unauthorized", detail=exc.reason) from None
        agreement_id = request.match_info["id"]
        row, plan, due = await self.payments.due(agreement_id)
        if caller.did != row.consumer_did:
            raise Problem(404, "Not Found", detail="no such agreement with you")
        return agreement_id, row, plan, due

    def _details(self, agreement_id: str, due: Any) -> dict[str, Any]:
        chain = self.evm.chain
        return {
            "agreementId": agreement_id,
            "method": "evm",
            "chainId": chain.w3.eth.chain_id,
            "token": chain.address,
            "payee": self.evm.account,
            "amount": f"{due.amount:f}",
            "currency": due.currency,
            "units": str(units(due.amount, chain.decimals)),
            "reference": "0x" + reference(agreement_id).hex(),
            "periodStart": due.start.isoformat(),
            "confirmations": self.evm.confirmations,
        }

    async def details(self, request: web.Request) -> web.Response:
        agreement_id, _, _, due = await self._consumer(request)
        if due.currency != self.evm.currency:
            raise Problem(
                409, "Conflict", detail=f"this plan is not payable in {self.evm.currency}"
            )
        body = await asyncio.to_thread(self._details, agreement_id, due)
        return web.json_response(body)

    async def receive(self, request: web.Request) -> web.Response:
        agreement_id, _, _, due = await self._consumer(request)
        try:
            data = PaymentIn.model_validate(await read_json(request))
        except ValidationError as exc:
            raise validation_problem(exc) from None
        chain = self.evm.chain
        if due.currency != self.evm.currency:
            raise Problem(
                409, "Conflict", detail=f"this plan is not payable in {self.evm.currency}"
            )
        try:
            verified = await asyncio.to_thread(
                chain.verify,
                data.transaction,
                payer=data.payer,
                payee=self.evm.account,
                amount_units=units(due.amount, chain.decimals),
                ref=reference(agreement_id),
                confirmations=self.evm.confirmations,
            )
        except EvmPaymentError as exc:
            raise _problem(exc) from None
        view = await self.payments.accept(
            self.dsp,
            agreement_id,
            "evm",
            due.amount,
            due.currency,
            data.transaction.lower(),
            {"token": chain.address, "payerAccount": verified.payer, "block": verified.block},
        )
        return web.json_response(view, status=201)

    def add_routes(self, root: web.Application) -> None:
        root.router.add_get(PREFIX + "/agreements/{id}/payment", self.details)
        root.router.add_post(PREFIX + "/agreements/{id}/payment", self.receive)


class EvmConsumer:
    """The consumer's side: pay what we agreed to, nothing else."""

    def __init__(self, ctx: ConnectorContext, dsp: Dsp, evm: Evm) -> None:
        self.ctx = ctx
        self.dsp = dsp
        self.evm = evm

    async def _ours(self, agreement_id: str) -> Any:
        async with self.ctx.db.connect() as conn:
            row = (
                await conn.execute(
                    select(agreements, negotiations.c.counterparty_address)
                    .join(negotiations, negotiations.c.pid == agreements.c.negotiation_pid)
                    .where(agreements.c.id == agreement_id)
                    .where(negotiations.c.role == Role.CONSUMER.value)
                )
            ).first()
        if row is None:
            raise Problem(404, "Not Found", detail="agreementId: no agreement of ours as consumer")
        return row

    async def _call(self, method: str, url: str, provider: str, body: Any = None) -> Any:
        token = await self.dsp.issuer.token_for(provider)
        async with self.ctx.http().request(
            method, url, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                detail = data.get("detail") if isinstance(data, dict) else None
                raise Problem(
                    502, "Bad Gateway", detail=f"the provider refused ({resp.status}): {detail}"
                )
            return data

    async def pay(self, request: web.Request) -> web.Response:
        try:
            data = PayIn.model_validate(await read_json(request))
        except ValidationError as exc:
            raise validation_problem(exc) from None
        row = await self._ours(data.agreement_id)
        agreement = json.loads(row.agreement)
        try:
            plan = plan_from_offer(agreement)
        except MarketplaceError as exc:
            raise Problem(409, "Conflict", detail=f"the agreement's price: {exc}") from None
        start = datetime.fromisoformat(agreement["timestamp"].replace("Z", "+00:00"))
        agreed = {(p.amount, p.currency) for p in periods(plan, start, datetime.now(UTC))}
        address = str(row.counterparty_address)
        if not address.endswith(BASE_PATH):
            raise Problem(409, "Conflict", detail="the provider is not an Agora connector")
        url = f"{address[: -len(BASE_PATH)]}{PREFIX}/agreements/{data.agreement_id}/payment"
        due = await self._call("GET", url, row.provider_did)
        chain = self.evm.chain
        expected_ref = "0x" + reference(data.agreement_id).hex()
        try:
            amount = Decimal(str(due.get("amount")))
        except ArithmeticError:
            raise Problem(502, "Bad Gateway", detail="the provider sent no amount") from None
        refusals = []
        if (amount, due.get("currency")) not in agreed:
            refusals.append(f"{amount} {due.get('currency')} is not the agreed price")
        if str(due.get("token", "")).lower() != chain.address.lower():
            refusals.append(f"token {due.get('token')} is not ours ({chain.address})")
        if due.get("reference") != expected_ref:
            refusals.append("the reference is not the agreement's")
        if refusals:
            raise Problem(409, "Conflict", detail="not paid: " + "; ".join(refusals))
        try:
            tx = await asyncio.to_thread(
                chain.pay,
                self.evm.account,
                str(due["payee"]),
                units(amount, chain.decimals),
                reference(data.agreement_id),
            )
        except EvmPaymentError as exc:
            raise _problem(exc) from None
        receipt = await self._call(
            "POST", url, row.provider_did, {"transaction": tx, "payer": self.evm.account}
        )
        now = datetime.now(UTC)
        async with self.dsp.transaction() as conn:
            await conn.execute(
                insert(payments).values(
                    id=str(receipt.get("id")),
                    agreement_id=data.agreement_id,
                    method="evm",
                    reference=tx,
                    amount=f"{amount:f}",
                    currency=str(due["currency"]),
                    payer=self.ctx.settings.did,
                    created_at=now,
                )
            )
        view = {
            "agreementId": data.agreement_id,
            "method": "evm",
            "transaction": tx,
            "amount": f"{amount:f}",
            "currency": due["currency"],
            "payee": due["payee"],
            "token": chain.address,
        }
        await log_payment(
            self.ctx,
            provider=row.provider_did,
            consumer=self.ctx.settings.did,
            agreement_id=data.agreement_id,
            details={k: v for k, v in view.items() if k != "agreementId"},
            action="payment:sent",
        )
        return web.json_response(view, status=201)

    def add_routes(self, app: web.Application) -> None:
        add_routes(
            app,
            [
                Route(
                    "POST",
                    "/market/pay",
                    self.pay,
                    "Consumer: pay what an agreement asks, on chain (EVM)",
                    request=PayIn,
                    response=mv.SentPaymentView,
                    status=201,
                    errors=(404, 409, 502),
                    tags=("payments",),
                )
            ],
        )
