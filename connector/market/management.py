"""Offerings in the management API (/api/v1/offerings, admin key): create, read, update,
delete, list with filters, publish, retire.

A draft is edited in place and can be deleted; a published offering edited becomes the next
version (the old one retired, kept for its agreements) and is never deleted — it is retired,
which takes it out of the DSP catalog at once. Every change is one transaction.
"""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp import web
from sqlalchemy import select

from connector.dsp.runtime import DSP_KEY, Dsp
from connector.dsp.tables import datasets
from connector.dsp.validation import SchemaViolation, validate
from connector.http import routes
from connector.http.problems import Problem
from connector.http.routes import Route
from connector.market import store
from connector.market import views as mv
from connector.market.problems import problem, read_exact_json
from connector.storage.inline import Conn
from marketplace.errors import MarketplaceError
from marketplace.offerings import (
    Lifecycle,
    Offering,
    OfferingHistory,
    offering_to_dict,
    parse_offering,
)
from marketplace.views.dsp import dsp_offers

LIFECYCLES = {lc.value for lc in Lifecycle}
DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"


def check_dsp_view(offering: Offering) -> None:
    """Refuse an offering whose DSP view would not validate against DSP 2025-1 (e.g. a number
    as a ``rightOperand`` in its terms): published, it would make the whole catalog invalid for
    every consumer that checks it, so it is a Problem now rather than a broken catalog later."""
    offers = dsp_offers(offering)
    if not offers:
        return
    doc = {
        "@context": [DSP_CONTEXT],
        "@type": "Dataset",
        "@id": offering.dataset_id,
        "hasPolicy": offers,
        "distribution": [{"format": "NGSI-LD-PULL", "accessService": "urn:agora:check"}],
    }
    try:
        validate("Dataset", doc)
    except SchemaViolation as exc:
        index = _plan_index(str(exc))
        where = f"plans.{index}.terms" if index is not None else "plans"
        raise Problem(
            400,
            "Bad Request",
            detail=f"{where}: the plan's DSP offer is not valid DSP 2025-1: {exc}",
            type_="https://w3id.org/agora/problems/marketplace#ViewError",
            field=where,
        ) from None


def _plan_index(reason: str) -> int | None:
    marker = "/hasPolicy/"
    if marker not in reason:
        return None
    digits = reason.split(marker, 1)[1].split("/", 1)[0]
    return int(digits) if digits.isdigit() else None


def view(offering: Offering) -> dict[str, Any]:
    """The plain-JSON management view, with the DSP offers derived from it."""
    out = offering_to_dict(offering)
    out["offers"] = dsp_offers(offering)
    return out


def _dsp(request: web.Request) -> Dsp:
    return request.app[DSP_KEY]


async def _dataset_exists(conn: Conn, dataset_id: str) -> None:
    found = (await conn.execute(select(datasets.c.id).where(datasets.c.id == dataset_id))).first()
    if not found:
        raise Problem(
            400,
            "Bad Request",
            detail=f"dataset_id: no such dataset {dataset_id!r}",
            field="dataset_id",
        )


async def _history(conn: Conn, offering_id: str, lock: bool = False) -> OfferingHistory:
    found = await store.history(conn, offering_id, lock=lock)
    if found is None:
        raise Problem(404, "Not Found", detail=f"no such offering {offering_id!r}")
    return found


async def create(dsp: Dsp, data: Any) -> Offering:
    """A new offering (version 1, a draft); shared by the management and TMF620 routes."""
    if isinstance(data, dict) and "id" not in data:
        data = {**data, "id": uuid.uuid4().hex}
    try:
        offering = parse_offering(data)
        started = OfferingHistory.start(offering)
    except MarketplaceError as exc:
        raise problem(exc) from None
    check_dsp_view(offering)
    async with dsp.transaction() as conn:
        await _dataset_exists(conn, offering.dataset_id)
        if await store.history(conn, offering.id) is not None:
            raise Problem(409, "Conflict", detail=f"offering {offering.id!r} exists")
        await store.write(conn, None, started)
    return offering


async def change(
    dsp: Dsp, offering_id: str, *, edit: dict[str, Any] | None = None, to: str | None = None
) -> Offering:
    """Edit or move an offering in one transaction; refused changes change nothing."""
    async with dsp.transaction() as conn:
        before = await _history(conn, offering_id, lock=True)
        try:
            after = before.edit(**edit) if edit is not None else before
            if to is not None:
                after = after.transition(to)
        except MarketplaceError as exc:
            raise problem(exc) from None
        if edit is not None:
            check_dsp_view(after.current)
        if after.current.lifecycle is Lifecycle.PUBLISHED:
            await _dataset_exists(conn, after.current.dataset_id)
        await store.write(conn, before, after)
    return after.current


async def create_offering(request: web.Request) -> web.Response:
    offering = await create(_dsp(request), await read_exact_json(request))
    return web.json_response(view(offering), status=201)


async def list_offerings(request: web.Request) -> web.Response:
    lifecycle = request.query.get("lifecycle")
    if lifecycle is not None and lifecycle not in LIFECYCLES:
        raise Problem(
            400, "Bad Request", detail=f"lifecycle: one of {', '.join(sorted(LIFECYCLES))}"
        )
    async with _dsp(request).ctx.db.connect() as conn:
        found = await store.current_versions(
            conn, lifecycle=lifecycle, dataset_id=request.query.get("datasetId")
        )
    return web.json_response([view(o) for o in found])


async def get_offering(request: web.Request) -> web.Response:
    async with _dsp(request).ctx.db.connect() as conn:
        history = await _history(conn, request.match_info["id"])
    raw = request.query.get("version")
    if raw is None:
        return web.json_response(view(history.current))
    if not raw.isdigit() or len(raw) > 7:
        raise Problem(400, "Bad Request", detail="version: a positive integer")
    try:
        return web.json_response(view(history.at(int(raw))))
    except MarketplaceError as exc:
        raise Problem(404, "Not Found", detail=str(exc)) from None


async def list_versions(request: web.Request) -> web.Response:
    async with _dsp(request).ctx.db.connect() as conn:
        history = await _history(conn, request.match_info["id"])
    return web.json_response([view(o) for o in history.versions])


async def patch_offering(request: web.Request) -> web.Response:
    data = await read_exact_json(request)
    if not isinstance(data, dict) or not data:
        raise Problem(400, "Bad Request", detail="an object of the fields to change")
    offering = await change(_dsp(request), request.match_info["id"], edit=data)
    return web.json_response(view(offering))


async def publish_offering(request: web.Request) -> web.Response:
    offering = await change(_dsp(request), request.match_info["id"], to=Lifecycle.PUBLISHED)
    return web.json_response(view(offering))


async def retire_offering(request: web.Request) -> web.Response:
    offering = await change(_dsp(request), request.match_info["id"], to=Lifecycle.RETIRED)
    return web.json_response(view(offering))


async def delete_offering(request: web.Request) -> web.Response:
    """Only an offering that was never published: agreements may point at any other."""
    async with _dsp(request).transaction() as conn:
        history = await _history(conn, request.match_info["id"], lock=True)
        if len(history.versions) > 1 or history.current.lifecycle is not Lifecycle.DRAFT:
            raise Problem(
                409,
                "Conflict",
                detail="only a draft that was never published is deleted; retire this one",
            )
        await store.remove(conn, history.current.id)
    return web.Response(status=204)


_EXAMPLE = {
    "dataset_id": "urn:uuid:…",
    "name": "Air quality, hourly",
    "plans": [
        {
            "plan": {"kind": "recurring", "id": "monthly", "price": "30.00", "period": "P1M"},
            "terms": {"permission": [{"action": "use"}]},
        }
    ],
}
ROUTES = [
    Route(
        "POST",
        "/offerings",
        create_offering,
        "Create an offering (a draft)",
        request=mv.OfferingIn,
        response=mv.OfferingView,
        status=201,
        errors=(409,),
        example=_EXAMPLE,
    ),
    Route(
        "GET",
        "/offerings",
        list_offerings,
        "List offerings",
        query=mv.OfferingsQuery,
        response=mv.OFFERINGS,
    ),
    Route(
        "GET",
        "/offerings/{id}",
        get_offering,
        "One offering",
        query=mv.VersionQuery,
        response=mv.OfferingView,
    ),
    Route(
        "GET",
        "/offerings/{id}/versions",
        list_versions,
        "Every version of an offering",
        response=mv.OFFERINGS,
    ),
    Route(
        "PATCH",
        "/offerings/{id}",
        patch_offering,
        "Edit (a published one: the next version)",
        request=mv.OfferingPatch,
        response=mv.OfferingView,
        errors=(409,),
        example={"description": "Hourly averages of every station"},
    ),
    Route(
        "DELETE",
        "/offerings/{id}",
        delete_offering,
        "Delete a never-published draft",
        status=204,
        errors=(409,),
    ),
    Route(
        "POST",
        "/offerings/{id}/publish",
        publish_offering,
        "Publish: into the DSP catalog",
        response=mv.OfferingView,
        errors=(409,),
    ),
    Route(
        "POST",
        "/offerings/{id}/retire",
        retire_offering,
        "Retire: out of the catalog",
        response=mv.OfferingView,
        errors=(409,),
    ),
]


def add_routes(app: web.Application) -> None:
    routes.add_routes(app, ROUTES)
