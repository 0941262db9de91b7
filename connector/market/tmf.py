"""TM Forum views of the one offering model: TMF620 Product Catalog (read and write, the admin
key on writes) and the TMF622 productOrder view of DSP negotiations (admin key).

Neither view is stored: a productOffering and its productOfferingPrices are rendered from the
stored offering by ``marketplace.views.tmf620``, and a TMF620 write is parsed back into the same
model and stored by the same code the management API uses. A productOrder is the negotiation
itself (MARKETPLACE.md: the negotiation is the order), so an order changes state in the same
transaction as its negotiation, by construction.
"""

from __future__ import annotations

import json
from typing import Any, Final

from aiohttp import web
from sqlalchemy import and_, select

from connector.dsp.negotiation_states import Role
from connector.dsp.runtime import DSP_KEY, Dsp
from connector.dsp.tables import negotiations, outbox
from connector.http.auth import ADMIN, authenticate
from connector.http.problems import Problem
from connector.market import management, store
from connector.market.problems import problem, read_exact_json
from marketplace.errors import MarketplaceError
from marketplace.numbers import dumps
from marketplace.offerings import Lifecycle, Offering
from marketplace.orders import order_state, product_status
from marketplace.views.tmf620 import (
    parse_product_offering,
    product_offering,
    product_offering_prices,
)

CATALOG: Final = "/productCatalogManagement/v4"
ORDERING: Final = "/productOrderingManagement/v4"
STATUS_TO_LIFECYCLE: Final = {"launched": Lifecycle.PUBLISHED, "retired": Lifecycle.RETIRED}


def _json(data: Any, status: int = 200) -> web.Response:
    """TMF numbers are JSON numbers written from the Decimal's digits, never a float."""
    return web.Response(text=dumps(data), status=status, content_type="application/json")


async def _admin(request: web.Request) -> None:
    found = await authenticate(request)
    if found is None:
        raise Problem(
            401,
            "Unauthorized",
            detail="send the admin API key as 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="agora"'},
        )
    if found.kind != ADMIN:
        raise Problem(403, "Forbidden", detail="only the admin writes the catalog")


def _dsp(request: web.Request) -> Dsp:
    return request.app[DSP_KEY]


def _base(request: web.Request) -> str:
    return _dsp(request).ctx.settings.public_url + "/tmf-api"


def _fields(request: web.Request, doc: dict[str, Any]) -> dict[str, Any]:
    """TMF's ``?fields=a,b`` selection (``id`` and ``href`` always kept)."""
    raw = request.query.get("fields")
    if not raw:
        return doc
    keep = {f.strip() for f in raw.split(",")} | {"id", "href"}
    return {k: v for k, v in doc.items() if k in keep}


async def _current(request: web.Request) -> list[Offering]:
    status = request.query.get("lifecycleStatus")
    lifecycle = None
    if status is not None:
        lookup = {"in design": Lifecycle.DRAFT, **STATUS_TO_LIFECYCLE}
        lifecycle = lookup.get(status.lower())
        if lifecycle is None:
            raise Problem(
                400, "Bad Request", detail="lifecycleStatus: In design | Launched | Retired"
            )
    async with _dsp(request).ctx.db.connect() as conn:
        return await store.current_versions(conn, lifecycle=lifecycle.value if lifecycle else None)


async def list_offerings(request: web.Request) -> web.Response:
    base = _base(request)
    found = await _current(request)
    return _json([_fields(request, product_offering(o, base_url=base)) for o in found])


async def _one(request: web.Request) -> Offering:
    async with _dsp(request).ctx.db.connect() as conn:
        history = await store.history(conn, request.match_info["id"])
    if history is None:
        raise Problem(404, "Not Found", detail="no such productOffering")
    return history.current


async def get_offering(request: web.Request) -> web.Response:
    offering = await _one(request)
    return _json(_fields(request, product_offering(offering, base_url=_base(request))))


async def list_prices(request: web.Request) -> web.Response:
    base = _base(request)
    out = [p for o in await _current(request) for p in product_offering_prices(o, base_url=base)]
    return _json([_fields(request, p) for p in out])


async def get_price(request: web.Request) -> web.Response:
    """A POP id is ``<offering>:<version>:<plan>[:<part>]``: read that version's prices."""
    ident = request.match_info["id"]
    parts = ident.split(":")
    if len(parts) < 3 or not parts[1].isdigit() or len(parts[1]) > 7:
        raise Problem(404, "Not Found", detail="no such productOfferingPrice")
    async with _dsp(request).ctx.db.connect() as conn:
        offering = await store.version_of(conn, parts[0], int(parts[1]))
    if offering is not None:
        for pop in product_offering_prices(offering, base_url=_base(request)):
            if pop["id"] == ident:
                return _json(_fields(request, pop))
    raise Problem(404, "Not Found", detail="no such productOfferingPrice")


def _collect(node: Any, into: dict[str, Any], depth: int = 0) -> Any:
    """Inline POPs (with ``priceType``) by id, replaced by references in the document."""
    if depth > 8:
        raise Problem(400, "Bad Request", detail="productOfferingPrice nests too deep")
    if isinstance(node, list):
        return [_collect(x, into, depth + 1) for x in node]
    if not isinstance(node, dict):
        return node
    if "priceType" in node and isinstance(node.get("id"), str):
        pop = {k: _collect(v, into, depth + 1) for k, v in node.items()}
        into[node["id"]] = pop
        return {"id": node["id"], "name": node.get("name", node["id"])}
    return {k: _collect(v, into, depth + 1) for k, v in node.items()}


async def create_offering(request: web.Request) -> web.Response:
    """POST a productOffering whose productOfferingPrices are given inline (full objects)."""
    await _admin(request)
    doc = await read_exact_json(request)
    if not isinstance(doc, dict):
        raise Problem(400, "Bad Request", detail="a productOffering is an object")
    pops: dict[str, Any] = {}
    doc = {k: (_collect(v, pops) if k == "productOfferingPrice" else v) for k, v in doc.items()}
    if doc.get("lifecycleStatus", "In design") != "In design":
        raise Problem(
            400, "Bad Request", detail="lifecycleStatus: a new productOffering is 'In design'"
        )
    try:
        offering = parse_product_offering(doc, pops)
    except MarketplaceError as exc:
        raise problem(exc) from None
    created = await management.create(_dsp(request), offering)
    return _json(product_offering(created, base_url=_base(request)), status=201)


async def patch_offering(request: web.Request) -> web.Response:
    """PATCH ``lifecycleStatus`` (Launched publishes, Retired retires), ``name`` or
    ``description``; a change to a launched offering makes its next version."""
    await _admin(request)
    doc = await read_exact_json(request)
    allowed = {"lifecycleStatus", "name", "description"}
    if not isinstance(doc, dict) or not doc or set(doc) - allowed:
        raise Problem(
            400, "Bad Request", detail=f"PATCH takes {', '.join(sorted(allowed))} only here"
        )
    to = None
    if "lifecycleStatus" in doc:
        status = doc["lifecycleStatus"]
        to = STATUS_TO_LIFECYCLE.get(status.lower()) if isinstance(status, str) else None
        if to is None:
            raise Problem(400, "Bad Request", detail="lifecycleStatus: Launched | Retired")
    edit = {k: v for k, v in doc.items() if k != "lifecycleStatus"} or None
    dsp, oid = _dsp(request), request.match_info["id"]
    if edit is not None and to is not None:
        raise Problem(400, "Bad Request", detail="change the status or the fields, not both")
    offering = await management.change(dsp, oid, edit=edit, to=to)
    return _json(product_offering(offering, base_url=_base(request)))


async def delete_offering(request: web.Request) -> web.Response:
    await _admin(request)
    return await management.delete_offering(request)


# ---------------------------------------------------------------------- TMF622


async def _terminated_by_us(request: web.Request, pids: list[str]) -> set[str]:
    if not pids:
        return set()
    async with _dsp(request).ctx.db.connect() as conn:
        rows = await conn.execute(
            select(outbox.c.process_pid)
            .where(outbox.c.process_pid.in_(pids))
            .where(outbox.c.message_type == "ContractNegotiationTerminationMessage")
        )
        return {r.process_pid for r in rows}


def _order(base: str, row: Any, ours: bool) -> dict[str, Any] | None:
    """The productOrder of a negotiation for one of the marketplace's offers, else None."""
    offer = json.loads(row.offer) if row.offer else {}
    parsed = store.parse_offer_id(offer.get("@id", ""))
    if parsed is None or not row.state:
        return None
    oid, version, plan_id = parsed
    terminated_by = None
    if row.state == "TERMINATED":
        other = Role.CONSUMER if row.role == Role.PROVIDER else Role.PROVIDER
        terminated_by = (Role(row.role) if ours else other).value
    state = order_state(row.state, terminated_by).value
    status = product_status(row.state) if row.state != "TERMINATED" else None
    item: dict[str, Any] = {
        "id": "1",
        "action": "add",
        "quantity": 1,
        "state": state,
        "productOffering": {
            "id": oid,
            "href": f"{base}{CATALOG}/productOffering/{oid}",
            "version": str(version),
        },
        "productOfferingPrice": {"id": f"{oid}:{version}:{plan_id}"},
    }
    if status is not None:
        item["product"] = {"status": status.value}
    order: dict[str, Any] = {
        "id": row.pid,
        "href": f"{base}{ORDERING}/productOrder/{row.pid}",
        "@type": "ProductOrder",
        "state": state,
        "orderDate": row.created_at.isoformat(),
        "externalId": [{"id": row.provider_pid or "", "owner": "provider"}],
        "productOrderItem": [item],
        "relatedParty": [
            {"id": row.counterparty_did, "role": "Seller" if row.role == "consumer" else "Buyer"}
        ],
    }
    if row.state == "FINALIZED":
        order["completionDate"] = row.updated_at.isoformat()
    if row.agreement_id:
        order["agreement"] = [{"id": row.agreement_id, "@referredType": "odrl:Agreement"}]
    if row.error:
        order["note"] = [{"text": str(row.error)[:2000]}]
    return order


async def list_orders(request: web.Request) -> web.Response:
    await _admin(request)
    q = select(negotiations).where(negotiations.c.offer.like('%"urn:agora:offer:%'))
    state = request.query.get("state")
    async with _dsp(request).ctx.db.connect() as conn:
        rows = (await conn.execute(q.order_by(negotiations.c.created_at))).all()
    ours = await _terminated_by_us(request, [r.pid for r in rows if r.state == "TERMINATED"])
    base = _base(request)
    out = [o for r in rows if (o := _order(base, r, r.pid in ours)) is not None]
    if state:
        out = [o for o in out if o["state"] == state]
    return _json([_fields(request, o) for o in out])


async def get_order(request: web.Request) -> web.Response:
    await _admin(request)
    async with _dsp(request).ctx.db.connect() as conn:
        row = (
            await conn.execute(
                select(negotiations).where(and_(negotiations.c.pid == request.match_info["id"]))
            )
        ).first()
    order = None
    if row is not None:
        ours = await _terminated_by_us(request, [row.pid])
        order = _order(_base(request), row, row.pid in ours)
    if order is None:
        raise Problem(404, "Not Found", detail="no such productOrder")
    return _json(_fields(request, order))


def tmf_app(dsp: Dsp) -> web.Application:
    """The /tmf-api sub-application."""
    from connector.http.context import CTX

    app = web.Application()
    app[CTX] = dsp.ctx
    app[DSP_KEY] = dsp
    r = app.router
    r.add_get(CATALOG + "/productOffering", list_offerings)
    r.add_post(CATALOG + "/productOffering", create_offering)
    r.add_get(CATALOG + "/productOffering/{id}", get_offering)
    r.add_patch(CATALOG + "/productOffering/{id}", patch_offering)
    r.add_delete(CATALOG + "/productOffering/{id}", delete_offering)
    r.add_get(CATALOG + "/productOfferingPrice", list_prices)
    r.add_get(CATALOG + "/productOfferingPrice/{id}", get_price)
    r.add_get(ORDERING + "/productOrder", list_orders)
    r.add_get(ORDERING + "/productOrder/{id}", get_order)
    return app
