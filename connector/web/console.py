"""The staff console: sign-in, datasets, offerings, decisions, processes, acquiring, staff keys.

Reads go through the same module functions and handlers as the management API
(:mod:`connector.web.internal`); each form is checked field by field first, so a person sees
the message next to the field, and the management layer's own Problem is shown when it refuses.
"""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import func, select

from connector.dsp import decision_queue
from connector.dsp import management as dspm
from connector.dsp.tables import agreements, datasets, negotiations, transfers
from connector.enforcement import received
from connector.http.context import CTX
from connector.http.middleware import open_ended
from connector.http.problems import Problem
from connector.market import management as offerings_api
from connector.market import store as offering_store
from connector.market.cli import RESEARCH_TERMS, USE_TERMS
from connector.web import session as sessions
from connector.web import staff
from connector.web.guard import FORM, PAGES_KEY, SECRET_KEY, chrome, form, page
from connector.web.internal import call
from connector.web.plain import offering_view, short, terms_lines

ENDED = ("FINALIZED", "TERMINATED")
OFFERING_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
TEMPLATES = ("research-and-commercial", "commercial", "open-data")
PERIODS = ("P1M", "P1Y", "P1W", "P1D")


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    return request.app[PAGES_KEY].render(
        request, template, status=status, **chrome(request), **values
    )


def _dsp(request: web.Request) -> Any:
    return request.app[CTX].components["dsp"]


def _root(request: web.Request) -> web.Application:
    return request.app


def _problem_text(exc: Problem) -> str:
    return exc.detail or exc.title


# ---------------------------------------------------------------------- sign-in


async def signin_page(request: web.Request, errors: dict[str, str] | None = None) -> web.Response:
    nonce = request.cookies.get(sessions.PRE_COOKIE) or sessions.new_nonce()
    why = request.query.get("why")
    response = render(
        request,
        "console/signin.html",
        status=400 if errors else 200,
        signin_token=sessions.csrf_token(request.app[SECRET_KEY], "signin\0" + nonce),
        next=request.query.get("next", "/console"),
        expired=why == "expired",
        errors=errors or {},
    )
    response.set_cookie(
        sessions.PRE_COOKIE, nonce, httponly=True, samesite="Strict", path="/console"
    )
    return response


async def signin(request: web.Request) -> web.StreamResponse:
    from connector.web.guard import read_form

    fields = await read_form(request)
    nonce = request.cookies.get(sessions.PRE_COOKIE, "")
    secret = request.app[SECRET_KEY]
    if not nonce or not sessions.csrf_ok(secret, "signin\0" + nonce, fields.get("csrf")):
        return await signin_page(request, {"form": "stale"})
    key = fields.get("key", "").strip()
    if not key:
        return await signin_page(request, {"key": "empty"})
    ctx = request.app[CTX]
    person = await staff.who(ctx.engine, ctx.settings, key)
    if person is None:
        return await signin_page(request, {"key": "wrong"})
    ttl = request.app[WEB_SETTINGS].session_ttl_s
    _, cookie = sessions.mint(secret, person.id, person.name, person.role, ttl)
    target = fields.get("next", "/console")
    where = target.split("?", 1)[0]
    if not where.startswith("/console") or "//" in where or "\\" in target:
        target = "/console"
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        httponly=True,
        samesite="Strict",
        path="/",
        max_age=ttl,
        secure=request.app[WEB_SETTINGS].secure_cookies
        or ctx.settings.public_url.startswith("https:"),
    )
    response.del_cookie(sessions.PRE_COOKIE, path="/console")
    raise response


@form("viewer")
async def signout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/console/signin")
    response.del_cookie(sessions.COOKIE, path="/")
    raise response


# ---------------------------------------------------------------------- overview


@page()
async def home(request: web.Request) -> web.Response:
    counts: dict[str, int] = {}
    async with request.app[CTX].db.connect() as conn:
        for name, table in (
            ("datasets", datasets),
            ("negotiations", negotiations),
            ("agreements", agreements),
            ("transfers", transfers),
        ):
            counts[name] = int(
                (await conn.execute(select(func.count()).select_from(table))).scalar() or 0
            )
    waiting = await decision_queue.waiting(_dsp(request))
    ctx = request.app[CTX]
    return render(
        request,
        "console/home.html",
        counts=counts,
        waiting=len(waiting),
        did=ctx.settings.did,
        participant=ctx.settings.participant.name,
        role=ctx.settings.participant.role,
    )


# ---------------------------------------------------------------------- datasets


async def _datasets(request: web.Request) -> list[dict[str, Any]]:
    return list((await call(_root(request), dspm.list_datasets, path="/datasets")).data)


@page()
async def datasets_page(
    request: web.Request,
) -> web.Response:
    return await _datasets_view(request)


async def _datasets_view(
    request: web.Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    created: dict[str, Any] | None = None,
) -> web.Response:
    return render(
        request,
        "console/datasets.html",
        status=400 if errors else 200,
        datasets=await _datasets(request),
        errors=errors or {},
        values=values or {},
        created=created,
        short=short,
    )


@form("editor")
async def create_dataset(request: web.Request) -> web.Response:
    fields = request[FORM]
    errors: dict[str, str] = {}
    title = fields.get("title", "").strip()
    types = [t.strip() for t in fields.get("entityTypes", "").replace("\n", ",").split(",")]
    types = [t for t in types if t]
    if not title:
        errors["title"] = "required"
    elif len(title) > 500:
        errors["title"] = "too_long"
    if not types:
        errors["entityTypes"] = "required"
    elif any(not re.fullmatch(r"[A-Za-z0-9_:/#.\-]{1,300}", t) for t in types):
        errors["entityTypes"] = "bad_type"
    if len(fields.get("description", "")) > 5000:
        errors["description"] = "too_long"
    if errors:
        return await _datasets_view(request, errors, fields)
    body = {"title": title, "description": fields.get("description", ""), "entityTypes": types}
    try:
        created = (
            await call(
                _root(request), dspm.create_dataset, method="POST", path="/datasets", body=body
            )
        ).data
    except Problem as exc:
        return await _datasets_view(request, {"form": _problem_text(exc)}, fields)
    return await _datasets_view(request, created=created)


# ---------------------------------------------------------------------- offerings


def _plans(template: str, price: Decimal, period: str) -> list[dict[str, Any]]:
    commercial = {
        "plan": {"id": "commercial", "kind": "recurring", "price": price, "period": period},
        "terms": USE_TERMS,
    }
    if template == "commercial":
        return [commercial]
    if template == "open-data":
        return [{"plan": {"id": "open", "kind": "free"}, "terms": USE_TERMS}]
    return [{"plan": {"id": "research", "kind": "free"}, "terms": RESEARCH_TERMS}, commercial]


async def _offerings_view(
    request: web.Request,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> web.Response:
    async with request.app[CTX].db.connect() as conn:
        found = await offering_store.current_versions(conn)
    return render(
        request,
        "console/offerings.html",
        status=400 if errors else 200,
        offerings=[offering_view(o) for o in found],
        datasets=await _datasets(request),
        templates=TEMPLATES,
        periods=PERIODS,
        errors=errors or {},
        values=values or {"template": "research-and-commercial", "price": "49.00"},
    )


@page()
async def offerings_page(request: web.Request) -> web.Response:
    return await _offerings_view(request)


@form("editor")
async def create_offering(request: web.Request) -> web.Response:
    fields = request[FORM]
    errors: dict[str, str] = {}
    oid = fields.get("id", "").strip()
    name = fields.get("name", "").strip()
    template = fields.get("template", "")
    period = fields.get("period", "P1M")
    dataset_ids = {d["id"] for d in await _datasets(request)}
    if not OFFERING_ID.match(oid):
        errors["id"] = "bad_id"
    if not name:
        errors["name"] = "required"
    elif len(name) > 200:
        errors["name"] = "too_long"
    if fields.get("dataset") not in dataset_ids:
        errors["dataset"] = "no_dataset"
    if template not in TEMPLATES:
        errors["template"] = "bad_template"
    if period not in PERIODS:
        errors["period"] = "bad_period"
    price = Decimal(0)
    if template != "open-data":
        try:
            price = Decimal(fields.get("price", "").strip().replace(",", "."))
            if not price.is_finite() or price <= 0 or price > Decimal("1e9"):
                raise InvalidOperation
            if price.as_tuple().exponent < -2:  # type: ignore[operator]
                errors["price"] = "cents"
        except InvalidOperation:
            errors["price"] = "bad_price"
    if errors:
        return await _offerings_view(request, errors, fields)
    doc = {
        "id": oid,
        "dataset_id": fields["dataset"],
        "name": name,
        "description": fields.get("description", "")[:5000],
        "plans": _plans(template, price, period),
    }
    dsp = _dsp(request)
    try:
        await offerings_api.create(dsp, doc)
        if fields.get("publish") == "on":
            await offerings_api.change(dsp, oid, to="published")
    except Problem as exc:
        field = exc.extensions.get("field") or "form"
        field = "id" if exc.status == 409 else str(field).split(".")[0]
        return await _offerings_view(
            request, {field if field else "form": _problem_text(exc)}, fields
        )
    raise web.HTTPSeeOther("/console/offerings")


@form("editor")
async def move_offering(request: web.Request) -> web.Response:
    to = request.match_info["to"]
    if to not in ("publish", "retire"):
        raise web.HTTPNotFound()
    try:
        await offerings_api.change(
            _dsp(request),
            request.match_info["id"],
            to="published" if to == "publish" else "retired",
        )
    except Problem as exc:
        return await _offerings_view(request, {"form": _problem_text(exc)})
    raise web.HTTPSeeOther("/console/offerings")


# ---------------------------------------------------------------------- decisions


@page()
async def decisions_page(request: web.Request, error: str | None = None) -> web.Response:
    return render(
        request,
        "console/decisions.html",
        status=409 if error else 200,
        waiting=await decision_queue.waiting(_dsp(request)),
        error=error,
    )


@form("editor")
async def decide(request: web.Request) -> web.Response:
    answer = request.match_info["answer"]
    if answer not in ("approve", "decline"):
        raise web.HTTPNotFound()
    reason = request[FORM].get("reason", "").strip()[:500] or None
    try:
        await decision_queue.take(
            _dsp(request), request.match_info["pid"], answer == "approve", reason
        )
    except Problem as exc:
        return render(
            request,
            "console/decisions.html",
            status=exc.status,
            waiting=await decision_queue.waiting(_dsp(request)),
            error=_problem_text(exc),
        )
    raise web.HTTPSeeOther("/console/decisions")


# ---------------------------------------------------------------------- processes


@page()
async def processes_page(request: web.Request) -> web.Response:
    root = _root(request)
    return render(
        request,
        "console/processes.html",
        negotiations=(await call(root, dspm.list_negotiations, path="/negotiations")).data,
        agreements=(await call(root, dspm.list_agreements, path="/agreements")).data,
        transfers=(await call(root, dspm.list_transfers, path="/transfers")).data,
        short=short,
    )


async def _timeline(request: web.Request, agreement_id: str | None) -> list[dict[str, Any]]:
    provenance = request.app[CTX].components.get("provenance")
    if provenance is None or not agreement_id:
        return []
    out = []
    for entry in await provenance.ledger.store.entries_for_agreement(agreement_id):
        record = json.loads(entry.data)
        out.append(
            {
                "index": entry.index,
                "time": record.get("time", ""),
                "action": record.get("action", ""),
                "decision": record.get("decision", ""),
                "author": record.get("author", ""),
            }
        )
    return out


async def _negotiation(request: web.Request, pid: str) -> dict[str, Any]:
    try:
        found = await call(
            _root(request), dspm.get_negotiation, path=f"/negotiations/{pid}", match={"pid": pid}
        )
    except Problem:
        raise web.HTTPNotFound() from None
    return dict(found.data)


@page()
async def negotiation_page(request: web.Request) -> web.Response:
    neg = await _negotiation(request, request.match_info["pid"])
    return render(
        request,
        "console/negotiation.html",
        neg=neg,
        ended=neg["state"] in ENDED,
        timeline=await _timeline(request, neg.get("agreementId")),
        terms=terms_lines(
            {
                k: v
                for k, v in (neg.get("offer") or {}).items()
                if k in ("permission", "prohibition", "obligation")
            }
        ),
    )


@page()
async def negotiation_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the negotiation's state each time it changes, until it ends."""
    pid = request.match_info["pid"]
    await _negotiation(request, pid)
    resp = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await resp.prepare(request)
    open_ended(request)
    last = None
    try:
        for _ in range(1200):  # at most ten minutes
            neg = await _negotiation(request, pid)
            seen = (neg["state"], neg.get("pendingDecision"), neg.get("agreementId"))
            if seen != last:
                last = seen
                data = {"state": neg["state"], "pendingDecision": neg.get("pendingDecision")}
                await resp.write(f"event: state\ndata: {json.dumps(data)}\n\n".encode())
            if neg["state"] in ENDED:
                await resp.write(b"event: end\ndata: {}\n\n")
                break
            await asyncio.sleep(0.5)
    except ConnectionResetError:
        pass
    return resp


@page()
async def agreement_page(request: web.Request) -> web.Response:
    aid = request.match_info["id"]
    try:
        found = await call(
            _root(request), dspm.get_agreement, path="/agreements/x", match={"id": aid}
        )
    except Problem:
        raise web.HTTPNotFound() from None
    agreement = found.data
    mine = [
        t
        for t in (await call(_root(request), dspm.list_transfers, path="/transfers")).data
        if t.get("agreementId") == aid
    ]
    policy = agreement["agreement"]
    return render(
        request,
        "console/agreement.html",
        agreement=agreement,
        consumer=agreement["consumerId"] == request.app[CTX].settings.did,
        terms=terms_lines(
            {k: v for k, v in policy.items() if k in ("permission", "prohibition", "obligation")}
        ),
        transfers=mine,
        timeline=await _timeline(request, aid),
    )


@form("editor")
async def pull(request: web.Request) -> web.Response:
    aid = request.match_info["id"]
    try:
        started = await call(
            _root(request),
            dspm.start_transfer,
            method="POST",
            path="/transfers",
            body={"agreementId": aid, "format": "NGSI-LD-PULL"},
        )
    except Problem as exc:
        return render(request, "error.html", status=exc.status, message=_problem_text(exc))
    raise web.HTTPSeeOther(f"/console/transfers/{started.data['id']}")


async def _transfer(request: web.Request, pid: str) -> dict[str, Any]:
    try:
        found = await call(
            _root(request), dspm.get_transfer, path="/transfers/x", match={"pid": pid}
        )
    except Problem:
        raise web.HTTPNotFound() from None
    return dict(found.data)


@page()
async def transfer_page(request: web.Request) -> web.Response:
    tr = await _transfer(request, request.match_info["pid"])
    return render(
        request, "console/transfer.html", tr=tr, entities=None, fetch_error=None, etype=""
    )


@form("editor")
async def fetch_data(request: web.Request) -> web.Response:
    """Pull entities through our consumer pull proxy (the received copy is recorded there)."""
    pid = request.match_info["pid"]
    tr = await _transfer(request, pid)
    etype = request[FORM].get("type", "").strip()[:200]
    query = {"limit": "20", "options": "keyValues"}
    if etype:
        query["type"] = etype
    entities: list[dict[str, Any]] | None = None
    error = None
    try:
        got = await call(
            _root(request),
            received.pull,
            path=f"/pull/{pid}/entities?{urlencode(query)}",
            match={"transferId": pid, "tail": "entities"},
            headers={"Accept": "application/json"},
        )
        if got.status == 200 and isinstance(got.data, list):
            entities = got.data
        else:
            detail = got.data.get("detail") if isinstance(got.data, dict) else None
            error = f"{got.status}: {detail or got.data}"
    except Problem as exc:
        error = _problem_text(exc)
    columns: list[str] = []
    for ent in entities or []:
        for key in ent:
            if key not in columns and key != "@context":
                columns.append(key)
    return render(
        request,
        "console/transfer.html",
        status=200 if error is None else 502,
        tr=tr,
        entities=entities,
        columns=columns[:8],
        fetch_error=error,
        etype=etype,
    )


# ---------------------------------------------------------------------- acquiring


def _acquire_params(source: Any) -> dict[str, str]:
    keys = ("provider", "providerId", "dataset", "offer", "name")
    return {k: str(source.get(k, ""))[:500] for k in keys}


async def _provider_dataset(request: web.Request, params: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "counterPartyAddress": params["provider"],
        "datasetId": params["dataset"],
    }
    if params.get("providerId"):
        body["counterPartyId"] = params["providerId"]
    found = await call(
        _root(request), dspm.request_dataset, method="POST", path="/catalog/dataset", body=body
    )
    return dict(found.data)


def _offers(dataset: dict[str, Any]) -> list[dict[str, Any]]:
    raw = dataset.get("hasPolicy") or []
    offers = raw if isinstance(raw, list) else [raw]
    out = []
    for offer in offers:
        if not isinstance(offer, dict):
            continue
        kept = {k: v for k, v in offer.items() if k in ("permission", "prohibition", "obligation")}
        price = None
        for duty in offer.get("obligation") or []:
            for c in duty.get("constraint") or [] if isinstance(duty, dict) else []:
                if isinstance(c, dict) and c.get("leftOperand") == "payAmount":
                    right = c.get("rightOperand")
                    price = right.get("@value") if isinstance(right, dict) else right
        out.append(
            {"id": offer.get("@id", ""), "price": price, "terms": terms_lines(kept), "raw": offer}
        )
    return out


@page()
async def acquire_page(request: web.Request) -> web.Response:
    params = _acquire_params(request.query)
    errors: dict[str, str] = {}
    offers: list[dict[str, Any]] = []
    dataset: dict[str, Any] | None = None
    if params["provider"] and params["dataset"]:
        try:
            dataset = await _provider_dataset(request, params)
            offers = _offers(dataset)
        except Problem as exc:
            errors["provider"] = _problem_text(exc)
    return render(
        request,
        "console/acquire.html",
        status=200 if not errors else 502,
        params=params,
        dataset=dataset,
        offers=offers,
        errors=errors,
    )


@form("editor")
async def acquire(request: web.Request) -> web.Response:
    params = _acquire_params(request[FORM])
    errors: dict[str, str] = {}
    for name in ("provider", "dataset"):
        if not params[name]:
            errors[name] = "required"
    offers: list[dict[str, Any]] = []
    dataset = None
    if not errors:
        try:
            dataset = await _provider_dataset(request, params)
            offers = _offers(dataset)
        except Problem as exc:
            errors["provider"] = _problem_text(exc)
    chosen = [o for o in offers if o["id"] == params["offer"]]
    if not errors and not chosen:
        errors["offer"] = "choose"
    if errors:
        return render(
            request,
            "console/acquire.html",
            status=400,
            params=params,
            dataset=dataset,
            offers=offers,
            errors=errors,
        )
    body: dict[str, Any] = {
        "counterPartyAddress": params["provider"],
        "offer": chosen[0]["raw"],
        "target": params["dataset"],
    }
    if params["providerId"]:
        body["counterPartyId"] = params["providerId"]
    try:
        started = await call(
            _root(request), dspm.start_negotiation, method="POST", path="/negotiations", body=body
        )
    except Problem as exc:
        return render(
            request,
            "console/acquire.html",
            status=exc.status,
            params=params,
            dataset=dataset,
            offers=offers,
            errors={"form": _problem_text(exc)},
        )
    raise web.HTTPSeeOther(f"/console/negotiations/{started.data['id']}")


# ---------------------------------------------------------------------- staff keys


async def _staff_view(
    request: web.Request, errors: dict[str, str] | None = None, new_key: str | None = None
) -> web.Response:
    return render(
        request,
        "console/staff.html",
        status=400 if errors else 200,
        keys=await staff.all_keys(request.app[CTX].engine),
        roles=sessions.ROLES,
        errors=errors or {},
        new_key=new_key,
    )


@page("admin")
async def staff_page(request: web.Request) -> web.Response:
    return await _staff_view(request)


@form("admin")
async def create_staff(request: web.Request) -> web.Response:
    fields = request[FORM]
    errors = {}
    name = fields.get("name", "").strip()
    if not name or len(name) > 100:
        errors["name"] = "required" if not name else "too_long"
    if fields.get("role") not in sessions.ROLES:
        errors["role"] = "bad_role"
    if errors:
        return await _staff_view(request, errors)
    _, key = await staff.create(request.app[CTX].engine, name, fields["role"])
    return await _staff_view(request, new_key=key)


@form("admin")
async def delete_staff(request: web.Request) -> web.Response:
    await staff.remove(request.app[CTX].engine, request.match_info["kid"])
    raise web.HTTPSeeOther("/console/staff")


WEB_SETTINGS: web.AppKey[sessions.WebSettings] = web.AppKey(
    "agora.web.settings", sessions.WebSettings
)


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/console/signin", signin_page)
    r.add_post("/console/signin", signin)
    r.add_post("/console/signout", signout)
    r.add_get("/console", home)
    r.add_get("/console/datasets", datasets_page)
    r.add_post("/console/datasets", create_dataset)
    r.add_get("/console/offerings", offerings_page)
    r.add_post("/console/offerings", create_offering)
    r.add_post("/console/offerings/{id}/{to}", move_offering)
    r.add_get("/console/decisions", decisions_page)
    r.add_post("/console/decisions/{pid}/{answer}", decide)
    r.add_get("/console/processes", processes_page)
    r.add_get("/console/negotiations/{pid}", negotiation_page)
    r.add_get("/console/negotiations/{pid}/events", negotiation_events)
    r.add_get("/console/agreements/{id}", agreement_page)
    r.add_post("/console/agreements/{id}/pull", pull)
    r.add_get("/console/transfers/{pid}", transfer_page)
    r.add_post("/console/transfers/{pid}/fetch", fetch_data)
    r.add_get("/console/acquire", acquire_page)
    r.add_post("/console/acquire", acquire)
    r.add_get("/console/staff", staff_page)
    r.add_post("/console/staff", create_staff)
    r.add_post("/console/staff/{kid}/delete", delete_staff)
