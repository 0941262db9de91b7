"""Payments received under invoice accounts, and the data-plane gate they open or close.

A payment (``POST /api/v1/payments``, the provider's staff recording what arrived) is one
compensate event: it is checked against the amount and currency of the oldest unpaid period of
the agreement's plan, its reference counts once (a replay is refused), and it is logged on the
provider's ledger. :class:`InvoiceGate` is what the PEP asks before each data-plane request: an
agreement with an amount past due plus grace is refused with a reason until it is paid.
"""

from __future__ import annotations

import json
import time
import uuid
from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from connector.dsp.negotiation import lock as lock_negotiation
from connector.dsp.negotiation_states import Role
from connector.dsp.runtime import DSP_KEY, Dsp, serialize_on
from connector.dsp.tables import agreements, negotiations
from connector.http.context import ConnectorContext
from connector.http.problems import Problem
from connector.http.routes import Route, add_routes
from connector.management.api import validation_problem
from connector.market import store
from connector.market import views as mv
from connector.market.payments.invoice import Invoice, Prepaid, account, suspension_reason
from connector.market.problems import problem, read_exact_json
from connector.market.tables import payments
from connector.storage.inline import Conn
from ledger.records import Record
from marketplace.errors import MarketplaceError
from marketplace.money import currency, parse_amount

GATE_TTL_S = 60.0
GATE_SIZE = 4096


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agreement_id: str = Field(alias="agreementId", max_length=300)
    method: str = Field(default="invoice", pattern="^invoice$")
    amount: Any
    currency: str = Field(max_length=100)
    reference: str = Field(min_length=1, max_length=300)


async def priced_agreement(conn: Conn, agreement_id: str) -> tuple[Any, Any] | None:
    """(agreement row, plan) of an agreement we made as provider on a marketplace offer."""
    row = (
        await conn.execute(
            select(agreements, negotiations.c.offer)
            .join(negotiations, negotiations.c.pid == agreements.c.negotiation_pid)
            .where(agreements.c.id == agreement_id)
            .where(negotiations.c.role == Role.PROVIDER.value)
        )
    ).first()
    if row is None or not row.offer:
        return None
    parsed = store.parse_offer_id(json.loads(row.offer).get("@id", ""))
    if parsed is None:
        return None
    offering = await store.version_of(conn, parsed[0], parsed[1])
    if offering is None:
        return None
    try:
        return row, offering.plan(parsed[2]).plan
    except MarketplaceError:
        return None


async def paid_count(conn: Conn, agreement_id: str) -> int:
    found = await conn.scalar(
        select(func.count()).select_from(payments).where(payments.c.agreement_id == agreement_id)
    )
    return int(found or 0)


def _aware(when: datetime) -> datetime:
    return when if when.utcoffset() is not None else when.replace(tzinfo=UTC)


class InvoiceGate:
    """The PEP's payment check (``enforcement.gates``): None, or why the agreement is suspended.
    Answers are kept per agreement for a minute, and dropped when a payment is recorded."""

    def __init__(self, ctx: ConnectorContext, method: Invoice) -> None:
        self.ctx = ctx
        self.method = method
        self.prepaid = Prepaid()
        self._memo: OrderedDict[str, tuple[str | None, float]] = OrderedDict()

    def terms_for(self, consumer_did: str) -> Invoice | Prepaid:
        """On account for an invoice customer; in advance for everyone else."""
        return self.method if consumer_did in self.method.accounts else self.prepaid

    def forget(self, agreement_id: str) -> None:
        self._memo.pop(agreement_id, None)

    async def __call__(self, agreement_id: str) -> str | None:
        hit = self._memo.get(agreement_id)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        async with self.ctx.db.connect() as conn:
            found = await priced_agreement(conn, agreement_id)
            paid = await paid_count(conn, agreement_id) if found else 0
        reason = None
        if found is not None:
            row, plan = found
            now = datetime.now(UTC)
            terms = self.terms_for(row.consumer_did)
            reason = suspension_reason(
                terms, account(terms, plan, _aware(row.created_at), paid, now)
            )
        self._memo[agreement_id] = (reason, time.monotonic() + GATE_TTL_S)
        while len(self._memo) > GATE_SIZE:
            self._memo.popitem(last=False)
        return reason


def _account_view(acc: Any, reason: str | None) -> dict[str, Any]:
    nxt = acc.next_unpaid
    return {
        "status": "suspended" if reason else "active",
        "reason": reason,
        "periodsBilled": len(acc.periods),
        "periodsPaid": acc.paid,
        "nextDue": None
        if nxt is None
        else {
            "periodStart": nxt.start.isoformat(),
            "amount": f"{nxt.amount:f}",
            "currency": nxt.currency,
        },
    }


class Payments:
    """Payments received: the /api/v1/payments routes, and the one path every method's payment
    takes into the database (checked against what is due, once per reference, then logged)."""

    def __init__(self, ctx: ConnectorContext, method: Invoice, gate: InvoiceGate) -> None:
        self.ctx = ctx
        self.method = method
        self.gate = gate

    async def priced(self, conn: Conn, agreement_id: str) -> tuple[Any, Any] | None:
        return await priced_agreement(conn, agreement_id)

    async def hold(self, conn: Conn, negotiation: Any) -> bool:
        """``Dsp.finalize_hold``: a prepaid (evm) agreement stays VERIFIED while its first
        amount is unpaid — the provider finalizes once it has verified the payment."""
        if not negotiation.agreement_id:
            return False
        found = await priced_agreement(conn, negotiation.agreement_id)
        if found is None:
            return False
        row, plan = found
        terms = self.gate.terms_for(row.consumer_did)
        if not isinstance(terms, Prepaid):
            return False  # on account: access starts at once
        paid = await paid_count(conn, negotiation.agreement_id)
        acc = account(terms, plan, _aware(row.created_at), paid, datetime.now(UTC))
        return acc.overdue is not None

    async def due(self, agreement_id: str) -> tuple[Any, Any, Any]:
        """(agreement row, plan, the oldest unpaid period) or a Problem."""
        async with self.ctx.db.connect() as conn:
            found = await priced_agreement(conn, agreement_id)
            if found is None:
                raise Problem(
                    404, "Not Found", detail="agreementId: no priced agreement of ours as provider"
                )
            row, plan = found
            paid = await paid_count(conn, agreement_id)
        terms = self.gate.terms_for(row.consumer_did)
        acc = account(terms, plan, _aware(row.created_at), paid, datetime.now(UTC))
        if acc.next_unpaid is None:
            raise Problem(409, "Conflict", detail="nothing is due on this agreement yet")
        return row, plan, acc.next_unpaid

    async def accept(
        self,
        dsp: Dsp,
        agreement_id: str,
        method: str,
        amount: Decimal,
        code: str,
        ref: str,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Store one payment of the oldest unpaid period, in one transaction, and log it."""
        now = datetime.now(UTC)
        async with dsp.transaction() as conn:
            # two payments of one agreement at once (two replicas): one waits for the other, so
            # each is checked against what is still due
            await serialize_on(conn, "market-payment", agreement_id)
            found = await priced_agreement(conn, agreement_id)
            if found is None:
                raise Problem(
                    404, "Not Found", detail="agreementId: no priced agreement of ours as provider"
                )
            row, plan = found
            used = (
                await conn.execute(select(payments.c.id).where(payments.c.reference == ref))
            ).first()
            if used is not None:
                raise Problem(
                    409, "Conflict", detail="reference: this payment was recorded already"
                )
            terms = self.gate.terms_for(row.consumer_did)
            paid = await paid_count(conn, agreement_id)
            due = account(terms, plan, _aware(row.created_at), paid, now).next_unpaid
            if due is None:
                raise Problem(409, "Conflict", detail="nothing is due on this agreement yet")
            if code != due.currency:
                raise Problem(
                    400,
                    "Bad Request",
                    detail=f"currency: the plan is paid in {due.currency}, not {code}",
                    field="currency",
                )
            if amount != due.amount:
                raise Problem(
                    400,
                    "Bad Request",
                    detail=f"amount: {due.amount:f} {due.currency} is due, not {amount:f}",
                    field="amount",
                )
            pay_id = f"urn:uuid:{uuid.uuid4()}"
            try:
                await conn.execute(
                    insert(payments).values(
                        id=pay_id,
                        agreement_id=agreement_id,
                        method=method,
                        reference=ref,
                        amount=f"{due.amount:f}",  # equal to what was paid, in the plan's form
                        currency=code,
                        payer=row.consumer_did,
                        created_at=now,
                    )
                )
            except IntegrityError:
                raise Problem(
                    409, "Conflict", detail="reference: this payment was recorded already"
                ) from None
            # a negotiation held for this payment is finalized in the same transaction
            negotiation = await lock_negotiation(conn, row.negotiation_pid)
            if (
                negotiation is not None
                and negotiation.state == "VERIFIED"
                and not await self.hold(conn, negotiation)
            ):
                await dsp.negotiations.finalize(conn, negotiation)
        self.gate.forget(agreement_id)
        view = {
            "id": pay_id,
            "agreementId": agreement_id,
            "method": method,
            "amount": f"{due.amount:f}",
            "currency": code,
            "reference": ref,
            "payer": row.consumer_did,
            "periodStart": due.start.isoformat(),
            **(details or {}),
        }
        await log_payment(
            self.ctx,
            provider=self.ctx.settings.did,
            consumer=row.consumer_did,
            agreement_id=agreement_id,
            details={k: v for k, v in view.items() if k != "agreementId"},
            action="payment:received",
        )
        return view

    async def record(self, request: web.Request) -> web.Response:
        """The provider's staff record a payment received on account (``invoice``)."""
        dsp: Dsp = request.app[DSP_KEY]
        try:
            data = PaymentIn.model_validate(await read_exact_json(request))
        except ValidationError as exc:
            raise validation_problem(exc) from None
        try:
            cur = currency(data.currency)
            amount = parse_amount(data.amount, field="amount")
        except MarketplaceError as exc:
            raise problem(exc) from None
        view = await self.accept(
            dsp, data.agreement_id, data.method, amount, cur.code, data.reference
        )
        return web.json_response(view, status=201)

    async def listing(self, request: web.Request) -> web.Response:
        q = select(payments).order_by(payments.c.created_at)
        if "agreementId" in request.query:
            q = q.where(payments.c.agreement_id == request.query["agreementId"])
        async with self.ctx.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        return web.json_response(
            [
                {
                    "id": r.id,
                    "agreementId": r.agreement_id,
                    "method": r.method,
                    "amount": r.amount,
                    "currency": r.currency,
                    "reference": r.reference,
                    "payer": r.payer,
                }
                for r in rows
            ]
        )

    async def account(self, request: web.Request) -> web.Response:
        agreement_id = request.match_info["id"]
        async with self.ctx.db.connect() as conn:
            found = await priced_agreement(conn, agreement_id)
            if found is None:
                raise Problem(404, "Not Found", detail="no priced agreement of ours as provider")
            paid = await paid_count(conn, agreement_id)
        row, plan = found
        terms = self.gate.terms_for(row.consumer_did)
        acc = account(terms, plan, _aware(row.created_at), paid, datetime.now(UTC))
        body = _account_view(acc, suspension_reason(terms, acc))
        body["method"] = terms.name
        return web.json_response(body)

    def add_routes(self, app: web.Application) -> None:
        add_routes(
            app,
            [
                Route(
                    "POST",
                    "/payments",
                    self.record,
                    "Provider: record a payment received on account (invoice)",
                    request=PaymentIn,
                    response=mv.RecordedPaymentView,
                    status=201,
                    errors=(404, 409),
                    tags=("payments",),
                    example={
                        "agreementId": "urn:uuid:…",
                        "amount": "30.00",
                        "currency": "EUR",
                        "reference": "bank transfer 2026-12-01",
                    },
                ),
                Route(
                    "GET",
                    "/payments",
                    self.listing,
                    "Payments received and sent",
                    query=mv.PaymentsQuery,
                    response=mv.PAYMENTS,
                ),
                Route(
                    "GET",
                    "/agreements/{id}/account",
                    self.account,
                    "Provider: what a priced agreement owes, and whether it is suspended",
                    response=mv.AccountView,
                    tags=("payments",),
                ),
            ],
        )


async def log_payment(
    ctx: ConnectorContext,
    *,
    provider: str,
    consumer: str,
    agreement_id: str,
    details: dict[str, Any],
    action: str,
) -> None:
    """Both parties log a payment on their own ledger (each as the author of its record)."""
    provenance = ctx.components.get("provenance")
    if provenance is None:
        return
    await provenance.record(
        Record(
            provider=provider,
            consumer=consumer,
            agreement_id=agreement_id,
            action=action,
            decision="paid",
            kind="payment",
            details=details,
        )
    )
