"""Metered usage of usage-priced agreements, and its TMF635 ``Usage`` view.

The PEP tells every answered data-plane request under an agreement (``AgreementPep.meters``):
one request, the entities it returned, the bytes of its answer. For an agreement on a metered,
tiered or freemium plan this adds them to the agreement's row for the current billing period
(periods counted from the agreement's start, like the plan's rating). Other agreements cost one
dictionary lookup. ``GET /tmf-api/usageManagement/v4/usage`` (admin key; ``?agreementId=``)
shows each row as a TMF635 ``Usage`` with the charge :func:`marketplace.rating.rate` gives it —
status ``received`` while the period is open, ``rated`` once it is over: what billing picks up.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from aiohttp import web
from sqlalchemy import and_, insert, select, update

from connector.http.context import ConnectorContext
from connector.market.billing import _aware, priced_agreement
from connector.market.tables import usage
from marketplace.plans import FreemiumPlan, MeteredPlan, TieredPlan
from marketplace.rating import Usage, rate
from policies.durations import Duration

MEMO_SIZE: Final = 4096
MEMO_TTL_S: Final = 300.0
MAX_PERIODS: Final = 100_000
USAGE_PATH: Final = "/usageManagement/v4/usage"
UNITS: Final = {"request": "requests", "entity": "entities", "MB": "bytes"}


@dataclass(frozen=True)
class Metered:
    """An agreement on a usage-priced plan: the plan and when the agreement started."""

    plan: Any
    started: datetime


def period_of(plan: Any, started: datetime, now: datetime) -> tuple[datetime, datetime]:
    """The billing period ``[start, end)`` of the agreement that holds ``now``."""
    step = Duration.parse(plan.period)
    begin = started
    for _ in range(MAX_PERIODS):
        end = step.add_to(begin)
        if now < end:
            return begin, end
        begin = end
    raise ValueError("the agreement is older than the periods counted")


class UsageMeter:
    """``AgreementPep.meters`` entry: counts usage of usage-priced agreements per period."""

    def __init__(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self._memo: OrderedDict[str, tuple[Metered | None, float]] = OrderedDict()

    async def metered(self, agreement_id: str) -> Metered | None:
        hit = self._memo.get(agreement_id)
        if hit is not None and hit[1] > time.monotonic():
            return hit[0]
        async with self.ctx.db.connect() as conn:
            found = await priced_agreement(conn, agreement_id)
        found_plan = found[1] if found else None
        metered = None
        if isinstance(found_plan, MeteredPlan | TieredPlan | FreemiumPlan) and found:
            metered = Metered(found_plan, _aware(found[0].created_at))
        self._memo[agreement_id] = (metered, time.monotonic() + MEMO_TTL_S)
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return metered

    async def __call__(self, agreement_id: str, used: dict[str, int]) -> None:
        metered = await self.metered(agreement_id)
        if metered is None:
            return
        now = datetime.now(UTC)
        start, end = period_of(metered.plan, metered.started, now)
        add = {k: int(used.get(k, 0)) for k in ("requests", "entities", "bytes")}
        key = and_(usage.c.agreement_id == agreement_id, usage.c.period_start == start)
        async with self.ctx.db.begin() as conn:
            changed = await conn.execute(
                update(usage)
                .where(key)
                .values(
                    requests=usage.c.requests + add["requests"],
                    entities=usage.c.entities + add["entities"],
                    bytes=usage.c.bytes + add["bytes"],
                    updated_at=now,
                )
            )
            if changed.rowcount == 0:
                await conn.execute(
                    insert(usage).values(
                        agreement_id=agreement_id,
                        period_start=start,
                        period_end=end,
                        updated_at=now,
                        **add,
                    )
                )


def _amount(value: Any) -> dict[str, Any]:
    return {"unit": value.currency, "value": f"{value.amount:f}"}


async def tmf635_usage(
    ctx: ConnectorContext, agreement_id: str | None, base: str
) -> list[dict[str, Any]]:
    """The stored usage rows as TMF635 ``Usage`` resources, rated with the agreement's plan."""
    query = select(usage).order_by(usage.c.agreement_id, usage.c.period_start)
    if agreement_id is not None:
        query = query.where(usage.c.agreement_id == agreement_id)
    now = datetime.now(UTC)
    out: list[dict[str, Any]] = []
    async with ctx.db.connect() as conn:
        rows = (await conn.execute(query.limit(1000))).all()
        plans: dict[str, Any] = {}
        for row in rows:
            if row.agreement_id not in plans:
                found = await priced_agreement(conn, row.agreement_id)
                plans[row.agreement_id] = found[1] if found else None
            plan = plans[row.agreement_id]
            start, end = _aware(row.period_start), _aware(row.period_end)
            uid = f"{row.agreement_id}:{start.isoformat()}"
            doc: dict[str, Any] = {
                "id": uid,
                "href": f"{base}{USAGE_PATH}/{uid}",
                "@type": "Usage",
                "usageDate": start.isoformat(),
                "usageSpecification": {"id": getattr(plan, "unit", "request"), "name": "data"},
                "usageCharacteristic": [
                    {"name": "requests", "valueType": "integer", "value": row.requests},
                    {"name": "entities", "valueType": "integer", "value": row.entities},
                    {"name": "bytes", "valueType": "integer", "value": row.bytes},
                ],
                "validFor": {"startDateTime": start.isoformat(), "endDateTime": end.isoformat()},
                "relatedParty": [{"role": "agreement", "id": row.agreement_id}],
                "status": "received" if now < end else "rated",
                "ratedProductUsage": [],
            }
            if plan is not None:
                charge = rate(
                    plan,
                    Usage(
                        start, end, requests=row.requests, entities=row.entities, bytes=row.bytes
                    ),
                )
                doc["ratedProductUsage"] = [
                    {
                        "@type": "RatedProductUsage",
                        "usageRatingTag": "usage",
                        "isBilled": False,
                        "ratingAmountType": "total",
                        "productRef": {"id": plan.id},
                        "taxExcludedRatingAmount": f"{(charge.net - charge.discount):f}",
                        "taxIncludedRatingAmount": f"{charge.gross:f}",
                        "taxRate": f"{plan.vat_rate:f}",
                        "currencyCode": charge.currency,
                    }
                ]
            out.append(doc)
    return out


def add_usage_routes(app: web.Application, ctx: ConnectorContext, admin: Any) -> None:
    """``GET /usageManagement/v4/usage`` on the TMF sub-application (admin key)."""

    async def list_usage(request: web.Request) -> web.Response:
        await admin(request)
        agreement = request.query.get("agreementId")
        base = ctx.settings.public_url.rstrip("/") + "/tmf-api"
        return web.json_response(await tmf635_usage(ctx, agreement, base))

    app.router.add_get(USAGE_PATH, list_usage)
