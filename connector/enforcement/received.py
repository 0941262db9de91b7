"""The consumer's side of usage control: what we received under an agreement, and its deletion.

A ``delete`` duty binds the *consumer*: the provider cannot reach into the consumer's systems.
So the consumer's connector keeps a small record of every answer its applications pulled through
it (``GET /api/v1/pull/{transferId}/<NGSI-LD path>``, admin key) — agreement, transfer, provider,
entity ids and the payload — and a background job deletes the stored copy at the duty's deadline
and logs a provenance record (kind ``duty``, action ``delete``).

Deadline of a ``delete`` duty: ``dateTime lt/lteq T`` is absolute (T); ``elapsedTime lt/lteq D``
is a retention period counted from the moment the copy was received (received + D). The earliest
applies. Without a deadline the copy is kept and no deletion is scheduled.

Limits: only copies that passed through this connector are known to it — data an application
kept elsewhere is outside its reach, and the ledger record states what the connector deleted,
not what the application did. PUSH notifications are recorded through :meth:`Received.store`,
which the subscriptions engine's notification receiver can call; it is not wired yet.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import insert, select, update

from connector.dsp.tables import agreements, transfers
from connector.enforcement.tables import received
from connector.http import routes, safe_json
from connector.http.context import CTX, ConnectorContext
from connector.http.problems import Problem
from connector.http.routes import Route, View
from connector.outbound import OutboundError, is_own_address
from identity.dpop import create_proof
from ledger.records import Record
from policies import parse_policy
from policies.durations import Duration
from policies.evaluator import typed_right
from policies.model import Constraint, Duty
from policies.vocab import ODRL

FORWARDED_HEADERS = ("Accept", "Link", "Agora-Purpose", "NGSILD-Tenant")
PASSED_BACK = (
    "Link",
    "Agora-Attribution",
    "NGSILD-Results-Count",
    "Content-Type",
    # the provider's quotas, so the application behind this connector can pace itself
    "RateLimit-Policy",
    "RateLimit",
)
#: the largest answer a pull passes on from the provider
PULL_MAX_BYTES = 32 * 1024 * 1024


def delete_deadline(agreement: dict[str, Any], received_at: datetime) -> datetime | None:
    """The earliest deadline of the agreement's ``delete`` duties for a copy received then."""
    policy = parse_policy(agreement)
    duties: list[Duty] = [d for p in policy.permissions for d in p.duties]
    duties += list(policy.obligations)
    deadline: datetime | None = None
    for duty in duties:
        if duty.action.iri != ODRL + "delete":
            continue
        for c in duty.constraints:
            if not isinstance(c, Constraint) or c.operator not in (ODRL + "lt", ODRL + "lteq"):
                continue
            try:
                value = typed_right(c)
            except (ValueError, ArithmeticError):
                continue
            when: datetime | None = None
            if c.left_operand == ODRL + "dateTime" and isinstance(value, datetime):
                when = value
            elif c.left_operand == ODRL + "elapsedTime" and isinstance(value, Duration):
                when = value.add_to(received_at)
            if when is not None and (deadline is None or when < deadline):
                deadline = when
    return deadline


def entity_ids(payload: Any) -> list[str]:
    items = payload.get("features", payload) if isinstance(payload, dict) else payload
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        return []
    return [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]


class Received:
    """Stores received copies and deletes them when their ``delete`` duty falls due."""

    def __init__(self, ctx: ConnectorContext, interval_s: float = 1.0) -> None:
        self.ctx = ctx
        self.interval_s = interval_s
        self._wake = asyncio.Event()

    async def store(
        self,
        *,
        agreement_id: str,
        transfer_id: str,
        provider_did: str,
        source: str,
        payload: Any,
        agreement: dict[str, Any],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        deadline = delete_deadline(agreement, now)
        row = {
            "id": uuid.uuid4().hex,
            "agreement_id": agreement_id,
            "transfer_id": transfer_id,
            "provider_did": provider_did,
            "source": source,
            "entity_ids": json.dumps(entity_ids(payload)),
            "payload": json.dumps(payload),
            "received_at": now.timestamp(),
            "delete_at": deadline.timestamp() if deadline is not None else None,
            "deleted_at": None,
        }
        async with self.ctx.engine.begin() as conn:
            await conn.execute(insert(received).values(**row))
        self._wake.set()
        return row

    async def sweep(self) -> int:
        """Delete every copy past its deadline; one ``duty``/``delete`` record each."""
        now = time.time()
        async with self.ctx.engine.connect() as conn:
            due = (
                await conn.execute(
                    select(received)
                    .where(received.c.deleted_at.is_(None))
                    .where(received.c.delete_at.is_not(None))
                    .where(received.c.delete_at <= now)
                )
            ).all()
        deleted = 0
        for row in due:
            async with self.ctx.engine.begin() as conn:
                claimed = await conn.execute(
                    update(received)
                    .where(received.c.id == row.id)
                    .where(received.c.deleted_at.is_(None))
                    .values(payload=None, deleted_at=now)
                )
            if claimed.rowcount != 1:
                continue  # another replica deleted it
            deleted += 1
            await self.ctx.components["provenance"].record(
                Record(
                    kind="duty",
                    provider=row.provider_did,
                    consumer=self.ctx.settings.did,
                    agreement_id=row.agreement_id,
                    action="delete",
                    decision="fulfilled",
                    details={
                        "receivedId": row.id,
                        "transferId": row.transfer_id,
                        "entities": json.loads(row.entity_ids),
                        "deadline": _iso(row.delete_at),
                        "deletedAt": _iso(now),
                    },
                )
            )
        return deleted

    async def next_due(self) -> float | None:
        async with self.ctx.engine.connect() as conn:
            found = (
                await conn.execute(
                    select(received.c.delete_at)
                    .where(received.c.deleted_at.is_(None))
                    .where(received.c.delete_at.is_not(None))
                    .order_by(received.c.delete_at)
                    .limit(1)
                )
            ).first()
        return None if found is None else float(found[0])

    async def run(self) -> None:
        """Background loop: sleep until the next deadline (at most ``interval_s``), sweep."""
        while True:
            try:
                await self.sweep()
                due = await self.next_due()
            except Exception:  # keep deleting later; the failure is logged, not swallowed
                self.ctx.log.exception("received-data deletion failed; retrying")
                due = None
            wait = self.interval_s if due is None else min(self.interval_s, due - time.time())
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.01))
            except TimeoutError:
                pass


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "agreementId": row.agreement_id,
        "transferId": row.transfer_id,
        "providerId": row.provider_did,
        "source": row.source,
        "entityIds": json.loads(row.entity_ids),
        "receivedAt": _iso(row.received_at),
        "deleteAt": _iso(row.delete_at) if row.delete_at is not None else None,
        "deletedAt": _iso(row.deleted_at) if row.deleted_at is not None else None,
        "stored": row.payload is not None,
    }


# ---------------------------------------------------------------------- management routes


async def pull(request: web.Request) -> web.StreamResponse:
    """Consumer: GET a provider's NGSI-LD path through our transfer; keep a received record."""
    ctx = request.app[CTX]
    pid = request.match_info["transferId"]
    async with ctx.engine.connect() as conn:
        row = (
            await conn.execute(
                select(transfers).where(transfers.c.pid == pid, transfers.c.role == "consumer")
            )
        ).first()
        agreement = None
        if row is not None:
            agreement = (
                await conn.execute(
                    select(agreements.c.agreement).where(agreements.c.id == row.agreement_id)
                )
            ).scalar()
    if row is None or agreement is None:
        raise Problem(404, "Not Found", detail="no transfer of ours as consumer with that id")
    if row.state != "STARTED" or not row.data_address:
        raise Problem(409, "Conflict", detail=f"the transfer is {row.state}, not STARTED")
    edrs = getattr(ctx.components.get("dsp"), "edrs", None)
    if edrs is not None:  # the token renewed first if it is about to expire
        row = await edrs.current(pid)
    address = json.loads(row.data_address)
    props = {str(p.get("name")): str(p.get("value")) for p in address.get("endpointProperties", [])}
    endpoint = str(address.get("endpoint", "")).rstrip("/")
    tail = request.match_info["tail"]
    if endpoint.endswith("/ngsi-ld/v1"):
        tail = tail.removeprefix("ngsi-ld/v1/")
    url = f"{endpoint}/{tail}"
    if row.counterparty_did != ctx.settings.did and is_own_address(url, ctx.settings):
        raise Problem(502, "Bad Gateway", detail="the provider's endpoint is this connector itself")
    headers = {k: request.headers[k] for k in FORWARDED_HEADERS if k in request.headers}
    token = props.get("authorization", "")
    if props.get("authType") == "dpop":  # sender-constrained: prove we hold the bound key
        key = ctx.components["dsp"].identity.key
        headers["Authorization"] = f"DPoP {token}"
        headers["DPoP"] = create_proof(key, method="GET", url=url, access_token=token)
    else:
        headers["Authorization"] = f"Bearer {token}"
    # the endpoint is the provider's word: only through the guarded client, no redirects
    try:
        got = await ctx.peers().request(
            "GET", url, params=request.query, headers=headers, max_bytes=PULL_MAX_BYTES
        )
    except OutboundError as exc:
        raise Problem(
            502,
            "Bad Gateway",
            detail=f"the provider's endpoint {endpoint[:200]} was not fetched: {exc.detail}",
        ) from None
    body, status = got.body, got.status
    back = {k: v for k in PASSED_BACK for v in got.header_values(k)}
    links = got.header_values("Link")
    out = web.Response(status=status, body=body)
    for name, value in back.items():
        if name != "Link":
            out.headers[name] = value
    for link in links:
        out.headers.add("Link", link)
    if status == 200:
        try:
            payload = safe_json.loads(body)
        except ValueError:
            payload = None
        if payload is not None:
            enforcement = ctx.components["enforcement"]
            stored = await enforcement.received.store(
                agreement_id=row.agreement_id,
                transfer_id=row.pid,
                provider_did=row.counterparty_did,
                source=url,
                payload=payload,
                agreement=json.loads(agreement),
            )
            out.headers["Agora-Received-Id"] = stored["id"]
    return out


async def list_received(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    q = select(received).order_by(received.c.received_at)
    if "agreementId" in request.query:
        q = q.where(received.c.agreement_id == request.query["agreementId"])
    async with ctx.engine.connect() as conn:
        rows = (await conn.execute(q)).all()
    return web.json_response([view(r) for r in rows])


class ReceivedView(View):
    """A copy of data received under an agreement (kept to carry out its duties)."""

    id: str
    agreementId: str
    transferId: str | None
    providerId: str
    source: str
    entityIds: list[str]
    receivedAt: str
    deleteAt: str | None = Field(description="when a delete duty removes it")
    deletedAt: str | None
    stored: bool = Field(description="false once deleted: only the record remains")


class ReceivedQuery(BaseModel):
    agreementId: str | None = None


ROUTES = [
    Route(
        "GET",
        "/pull/{transferId}/{tail:.*}",
        pull,
        "Consumer: GET a provider's NGSI-LD path through a started transfer",
        description="The provider's answer passed on (status, body, NGSI-LD headers); a 200"
        " JSON answer is kept as received data (its id in the Agora-Received-Id header).",
        media_type="application/json",
        errors=(409, 502),
        tags=("received",),
    ),
    Route(
        "GET",
        "/received",
        list_received,
        "Data received under agreements",
        query=ReceivedQuery,
        response=TypeAdapter(list[ReceivedView]),
    ),
]


def add_routes(app: web.Application) -> None:
    routes.add_routes(app, ROUTES)
