"""The queue of operator decisions in the management API, its event stream, and the timeout.

``GET /decisions`` lists every negotiation and transfer waiting for a decision (see
:mod:`connector.dsp.pending`); ``POST /decisions/{id}/approve`` and ``/decline`` answer one;
``GET /decisions/events`` is a server-sent event stream (``event: decision``) that first
replays what is waiting, then each decision as it starts waiting. With
``[dsp.decisions] timeout_s`` set, a decision older than that is taken by ``on_timeout``
(``decline``, the default, terminates the process; ``approve`` approves it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from connector.dsp import views as v
from connector.dsp.management import body, dsp_of, negotiation_view, transfer_view
from connector.dsp.models import DecisionIn
from connector.dsp.negotiation_states import IllegalTransition
from connector.dsp.pending import NotPending, pending_view
from connector.dsp.runtime import Dsp, now
from connector.dsp.tables import negotiations, transfers
from connector.dsp.transfer_states import IllegalTransition as TIllegal
from connector.http import routes
from connector.http.middleware import open_ended
from connector.http.problems import Problem
from connector.http.routes import Route

KEEP_ALIVE_S = 15.0
#: a process that ended waits for nothing, whatever it was waiting for
ENDED = ("FINALIZED", "TERMINATED", "COMPLETED")


async def waiting(dsp: Dsp, older_than: float | None = None) -> list[dict[str, Any]]:
    """Every decision waiting now, oldest first (``older_than``: only those waiting longer)."""
    out: list[tuple[Any, dict[str, Any]]] = []
    async with dsp.ctx.db.connect() as conn:
        for kind, table in (("negotiation", negotiations), ("transfer", transfers)):
            stmt = select(table).where(
                table.c.pending_decision.is_not(None), table.c.state.not_in(ENDED)
            )
            if older_than is not None:
                stmt = stmt.where(table.c.pending_since < now() - timedelta(seconds=older_than))
            for row in (await conn.execute(stmt)).all():
                out.append((row.pending_since, pending_view(kind, row)))
    out.sort(key=lambda pair: (pair[1]["since"] or "", pair[1]["id"]))
    return [view for _, view in out]


async def take(dsp: Dsp, pid: str, approve: bool, reason: str | None) -> dict[str, Any]:
    """Answer the decision process ``pid`` waits for; the process as the API shows it."""
    from connector.dsp.negotiation import lock as lock_negotiation
    from connector.dsp.transfer import lock as lock_transfer

    async with dsp.transaction() as conn:
        row = await lock_negotiation(conn, pid)
        if row is not None:
            try:
                await dsp.negotiations.take(conn, row, approve, reason)
            except NotPending as exc:
                raise Problem(409, "Conflict", detail=str(exc)) from None
            except IllegalTransition as exc:
                raise Problem(409, "Conflict", detail=str(exc)) from None
            return negotiation_view(await lock_negotiation(conn, pid))
        row = await lock_transfer(conn, pid)
        if row is None:
            raise Problem(404, "Not Found", detail="no negotiation or transfer with this id")
        try:
            await dsp.transfers.take(conn, row, approve, reason)
        except NotPending as exc:
            raise Problem(409, "Conflict", detail=str(exc)) from None
        except TIllegal as exc:
            raise Problem(409, "Conflict", detail=str(exc)) from None
        return transfer_view(await lock_transfer(conn, pid))


async def list_decisions(request: web.Request) -> web.Response:
    return web.json_response(await waiting(dsp_of(request)))


async def _answer(request: web.Request, approve: bool) -> web.Response:
    reason = (await body(request, DecisionIn)).reason if request.can_read_body else None
    view = await take(dsp_of(request), request.match_info["pid"], approve, reason)
    return web.json_response(view)


async def approve_decision(request: web.Request) -> web.Response:
    return await _answer(request, True)


async def decline_decision(request: web.Request) -> web.Response:
    return await _answer(request, False)


def _event(view: dict[str, Any]) -> bytes:
    return f"event: decision\nid: {view['id']}\ndata: {json.dumps(view)}\n\n".encode()


async def decision_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: what waits now, then each decision as it starts waiting."""
    dsp = dsp_of(request)
    queue = dsp.board.subscribe()
    try:
        resp = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await resp.prepare(request)
        open_ended(request)  # a stream, not a request: the request budget does not apply
        sent: set[str] = set()
        for view in await waiting(dsp):
            sent.add(f"{view['id']}\0{view['decision']}\0{view['since']}")
            await resp.write(_event(view))
        while True:
            try:
                view = await asyncio.wait_for(queue.get(), KEEP_ALIVE_S)
            except TimeoutError:
                await resp.write(b": keep-alive\n\n")
                continue
            key = f"{view['id']}\0{view['decision']}\0{view['since']}"
            if key not in sent:  # not replayed above already
                await resp.write(_event(view))
    except ConnectionResetError:
        return resp
    finally:
        dsp.board.unsubscribe(queue)


async def expire_forever(dsp: Dsp) -> None:
    """The timeout policy: take every decision that has waited longer than ``timeout_s``."""
    cfg = dsp.decision_defaults
    if cfg.timeout_s is None:
        return
    interval = max(0.05, min(cfg.timeout_s / 4, 5.0))
    approve = cfg.on_timeout == "approve"
    while True:
        await asyncio.sleep(interval)
        try:
            overdue = await waiting(dsp, older_than=cfg.timeout_s)
        except Exception as exc:  # a database hiccup must not end the policy
            dsp.ctx.log.warning("dsp: decision timeout pass failed: %s", exc)
            continue
        for view in overdue:
            with contextlib.suppress(Problem):  # taken meanwhile by the operator or a replica
                await take(dsp, view["id"], approve, f"{view['decision']}: timed out")
                dsp.ctx.log.info(
                    "dsp: %s of %s %s timed out (%s)",
                    view["decision"],
                    view["process"],
                    view["id"],
                    cfg.on_timeout,
                )


ROUTES = [
    Route(
        "GET",
        "/decisions",
        list_decisions,
        "Decisions waiting for the operator",
        response=v.DECISIONS,
    ),
    Route(
        "GET",
        "/decisions/events",
        decision_events,
        "Server-sent events: decisions waiting",
        media_type="text/event-stream",
        description="Each waiting decision as an 'event: decision' whose data is a"
        " DecisionView, first those waiting now, then each one as it starts waiting; a comment"
        " line every 15 s keeps the stream open.",
    ),
    Route(
        "POST",
        "/decisions/{pid}/approve",
        approve_decision,
        "Approve a waiting decision",
        request=DecisionIn,
        body_required=False,
        response=v.PROCESS,
        errors=(409,),
    ),
    Route(
        "POST",
        "/decisions/{pid}/decline",
        decline_decision,
        "Decline (terminates the process)",
        request=DecisionIn,
        body_required=False,
        response=v.PROCESS,
        errors=(409,),
        example={"reason": "not for this purpose"},
    ),
]


def add_routes(app: web.Application) -> None:
    routes.add_routes(app, ROUTES)
