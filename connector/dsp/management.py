"""DSP routes of the management API (/api/v1, admin key): publish datasets, policies and
offers; browse other connectors' catalogs; start, inspect and end negotiations and transfers.
"""

from __future__ import annotations

import json
import re
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Column, Table, delete, insert, select, update

from connector.config import did_web_for
from connector.dsp import http_source, process, templates
from connector.dsp import messages as m
from connector.dsp import views as v
from connector.dsp.callbacks import CallbackRefused, check_callback, join, origin, segment
from connector.dsp.catalog import (
    FORMAT_PULL,
    OFFER_SOURCES,
    PUSH_FORMATS,
    find_offer,
    new_id,
    offer_choices,
)
from connector.dsp.extensions import remember_catalog
from connector.dsp.models import (
    CatalogRequestIn,
    CounterOfferIn,
    CounterRequestIn,
    DatasetIn,
    DatasetPatch,
    DatasetRequestIn,
    NegotiationIn,
    OfferIn,
    PolicyIn,
    ProviderOfferIn,
    ReasonIn,
    TransferIn,
)
from connector.dsp.negotiation_states import IllegalTransition, NMessage, NState, Role
from connector.dsp.policy_input import normalise
from connector.dsp.runtime import DSP_KEY, Dsp, now
from connector.dsp.tables import agreements, datasets, negotiations, offers, policies, transfers
from connector.dsp.transfer_states import IllegalTransition as TIllegal
from connector.dsp.transfer_states import TMessage
from connector.dsp.validation import SchemaViolation, validate
from connector.http import routes, safe_json
from connector.http.problems import Problem, read_json
from connector.http.routes import Route
from connector.management.api import validation_problem
from connector.outbound import OutboundError, setting_hint
from identity.dpop import key_thumbprint

M = TypeVar("M", bound=BaseModel)


async def body(request: web.Request, model: type[M]) -> M:
    payload = await read_json(request)
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise validation_problem(exc) from None


def dsp_of(request: web.Request) -> Dsp:
    return request.app[DSP_KEY]


def _peer(dsp: Dsp, address: str, did: str | None) -> tuple[str, str]:
    try:
        base = check_callback(address, dsp.policy)
    except CallbackRefused as exc:
        raise Problem(400, "Bad Request", detail=f"counterPartyAddress: {exc}") from None
    if did is None:
        split = urlsplit(base)
        did = did_web_for(f"{split.scheme}://{split.netloc}")
    return base, did


# ---------------------------------------------------------------------- datasets / policies


def dataset_view(row: Any) -> dict[str, Any]:
    view = {
        "id": row.id,
        "title": row.title,
        "description": row.description,
        "entityTypes": json.loads(row.entity_types),
        "attributes": json.loads(row.attributes) if row.attributes else None,
        "area": json.loads(row.area) if row.area else None,
        "license": row.license,
    }
    if row.source:
        view["source"] = http_source.public_view(row.source)
    return view


def _expanded_scope(data: DatasetIn) -> tuple[list[str], list[str] | None]:
    """Entity types and attributes as full IRIs, expanded with the dataset's own @context the
    way the data's names are: the PEP compares IRIs, so a short name expanded with another
    context than the data's would match nothing."""
    from connector.ngsild.context import CORE, term_map, validate_context_value
    from connector.ngsild.errors import NgsiError

    terms = CORE
    if data.context is not None:
        try:
            validate_context_value(data.context)
            terms = term_map(data.context)
        except NgsiError as exc:
            raise Problem(400, "Bad Request", detail=f"/@context: {exc}") from None
    types = [terms.expand(t) for t in data.entity_types]
    attrs = [terms.expand(a) for a in data.attributes] if data.attributes else None
    return list(dict.fromkeys(types)), attrs


def _core_iri(name: str) -> str:
    """A short name expanded with the core context; a full IRI stays as it is."""
    from connector.ngsild.context import CORE

    return CORE.expand(name)


async def _scope_warnings(dsp: Dsp, types: list[str]) -> list[str]:
    """Say so when no stored entity has any of the dataset's types (the usual cause: a short
    name expanded with the core context while the data uses another), naming near misses."""
    broker = dsp.ctx.components.get("ngsild.broker")
    if broker is None:
        return []
    counts = await broker.store.type_counts(None)
    if any(counts.get(t) for t in types):
        return []
    warnings = []
    for iri in types:
        short = iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1]
        near = sorted(t for t in counts if t != iri and t.rsplit("/", 1)[-1] == short)
        text = f"no stored entity has type {iri}"
        if near:
            text += (
                f'; the data has {", ".join(near)}: give the data\'s "@context" (or the full'
                " IRI) in entityTypes"
            )
        warnings.append(text)
    return warnings


async def create_dataset(request: web.Request) -> web.Response:
    dsp = dsp_of(request)
    data = await body(request, DatasetIn)
    ds_id = data.id or new_id()
    if data.source is None and not data.entity_types:
        raise Problem(
            400, "Bad Request", detail="/entityTypes: give at least one, or an HTTP 'source'"
        )
    source = http_source.stored(data.source, dsp.ctx.peers().policy) if data.source else None
    entity_types, attributes = _expanded_scope(data)
    async with dsp.transaction() as conn:
        if (await conn.execute(select(datasets.c.id).where(datasets.c.id == ds_id))).first():
            raise Problem(409, "Conflict", detail=f"dataset {ds_id} exists")
        await conn.execute(
            insert(datasets).values(
                id=ds_id,
                title=data.title,
                description=data.description,
                entity_types=json.dumps(entity_types),
                attributes=json.dumps(attributes) if attributes else None,
                area=json.dumps(data.area) if data.area else None,
                source=source,
                license=data.license,
                created_at=now(),
            )
        )
        row = (await conn.execute(select(datasets).where(datasets.c.id == ds_id))).one()
    view = dataset_view(row)
    warnings = await _scope_warnings(dsp, entity_types) if source is None else []
    if warnings:
        view["warnings"] = warnings
    return web.json_response(view, status=201)


async def _rows(request: web.Request, table: Table) -> list[Any]:
    """All rows of ``table``, oldest first; ``?state=`` filters tables that have a state."""
    q = select(table).order_by(table.c.created_at)
    if "state" in table.c and "state" in request.query:
        q = q.where(table.c.state == request.query["state"])
    async with dsp_of(request).ctx.db.connect() as conn:
        return list((await conn.execute(q)).all())


async def _row_or_404(request: web.Request, key: Column[Any], param: str, what: str) -> Any:
    """The row whose ``key`` is the path parameter ``param``, or a 404 Problem."""
    async with dsp_of(request).ctx.db.connect() as conn:
        row = (await conn.execute(process.row_by(key), {"k": request.match_info[param]})).first()
    if row is None:
        raise Problem(404, "Not Found", detail=f"no such {what}")
    return row


async def list_datasets(request: web.Request) -> web.Response:
    """All datasets; ``?entityType=`` (a full IRI, or a short name of the core context) keeps
    those whose scope lists that type."""
    rows = await _rows(request, datasets)
    wanted = request.query.get("entityType")
    views = [dataset_view(r) for r in rows]
    if wanted is not None:
        iri = _core_iri(wanted)
        views = [v for v in views if wanted in v["entityTypes"] or iri in v["entityTypes"]]
    return web.json_response(views)


async def _granted(conn: Any, dataset_id: str) -> bool:
    found = await conn.execute(select(agreements.c.id).where(agreements.c.target == dataset_id))
    return found.first() is not None


async def patch_dataset(request: web.Request) -> web.Response:
    dsp = dsp_of(request)
    data = await body(request, DatasetPatch)
    given = data.model_dump(exclude_unset=True)
    if not given:
        raise Problem(400, "Bad Request", detail="give at least one field to change")
    ds_id = request.match_info["id"]
    values: dict[str, Any] = {}
    if "license" in given:
        values["license"] = given["license"]
    for name in ("title", "description"):
        if name in given:
            if given[name] is None:
                raise Problem(400, "Bad Request", detail=f"/{name}: may not be null")
            values[name] = given[name]
    scope = {"entity_types", "attributes", "area"} & set(given)
    if "entity_types" in given:
        if given["entity_types"] is None:
            raise Problem(400, "Bad Request", detail="/entityTypes: may not be null")
        # stored as full IRIs, as at creation (with the core context: a patch names none)
        values["entity_types"] = json.dumps(
            list(dict.fromkeys(map(_core_iri, given["entity_types"])))
        )
    if "attributes" in given:
        attrs = given["attributes"]
        values["attributes"] = json.dumps([_core_iri(a) for a in attrs]) if attrs else None
    if "area" in given:
        values["area"] = json.dumps(given["area"]) if given["area"] else None
    async with dsp.transaction() as conn:
        found = (
            await conn.execute(select(datasets.c.source).where(datasets.c.id == ds_id))
        ).first()
        if found is None:
            raise Problem(404, "Not Found", detail="no such dataset")
        if scope and found.source:
            raise Problem(
                400,
                "Bad Request",
                detail="this dataset is served from an HTTP source: it has no NGSI-LD scope",
            )
        if scope and await _granted(conn, ds_id):
            raise Problem(
                409,
                "Conflict",
                detail="agreements grant this dataset: its scope cannot change under them "
                "(publish a new dataset instead)",
            )
        await conn.execute(update(datasets).where(datasets.c.id == ds_id).values(**values))
        row = (await conn.execute(select(datasets).where(datasets.c.id == ds_id))).one()
    return web.json_response(dataset_view(row))


async def delete_dataset(request: web.Request) -> web.Response:
    """Only a dataset nothing refers to: no offer, no published offering, no agreement."""
    dsp = dsp_of(request)
    ds_id = request.match_info["id"]
    async with dsp.transaction() as conn:
        if not (await conn.execute(select(datasets.c.id).where(datasets.c.id == ds_id))).first():
            raise Problem(404, "Not Found", detail="no such dataset")
        own = await conn.execute(select(offers.c.id).where(offers.c.dataset_id == ds_id))
        offered = own.first() is not None
        for source in OFFER_SOURCES:
            q = source.dataset_ids().subquery()
            if (await conn.execute(select(q).where(q.c[0] == ds_id))).first():
                offered = True
        if offered:
            raise Problem(409, "Conflict", detail="offers refer to this dataset: remove them first")
        if await _granted(conn, ds_id):
            raise Problem(409, "Conflict", detail="agreements grant this dataset")
        await conn.execute(delete(datasets).where(datasets.c.id == ds_id))
    return web.Response(status=204)


async def get_dataset(request: web.Request) -> web.Response:
    row = await _row_or_404(request, datasets.c.id, "id", "dataset")
    return web.json_response(dataset_view(row))


def _check_policy(doc: dict[str, Any]) -> None:
    """A policy must be a valid catalog Offer (DSP schema) and valid ODRL (``policies``)."""
    from policies.errors import PoliciesError
    from policies.jsonld import parse_policy

    offer = {"@id": doc["@id"], "@type": "Offer", **{k: v for k, v in doc.items() if k != "@id"}}
    # The schemas define Offer only inside others: check it through a one-offer dataset.
    probe = {
        "@context": [m.DSP_CONTEXT],
        "@id": "urn:probe",
        "@type": "Dataset",
        "hasPolicy": [offer],
        "distribution": [{"format": "x", "accessService": "urn:x"}],
    }
    try:
        validate("Dataset", probe)
    except SchemaViolation as exc:
        raise Problem(400, "Bad Request", detail=f"not a DSP offer: {exc.reason}") from None
    try:
        parse_policy({**offer, "target": "urn:probe"})
    except PoliciesError as exc:
        raise Problem(400, "Bad Request", detail=f"not a valid ODRL policy: {exc}") from None


async def create_policy(request: web.Request) -> web.Response:
    data = await body(request, PolicyIn)
    rules = normalise(data.model_dump(exclude_none=True, exclude={"id"}))
    return await _store_policy(dsp_of(request), data.id or new_id(), rules)


async def _store_policy(dsp: Dsp, pol_id: str, rules: dict[str, Any]) -> web.Response:
    _check_policy({"@id": pol_id, **rules})
    async with dsp.transaction() as conn:
        if (await conn.execute(select(policies.c.id).where(policies.c.id == pol_id))).first():
            raise Problem(409, "Conflict", detail=f"policy {pol_id} exists")
        await conn.execute(
            insert(policies).values(id=pol_id, policy=json.dumps(rules), created_at=now())
        )
    return web.json_response({"id": pol_id, **rules}, status=201)


async def list_policy_templates(request: web.Request) -> web.Response:
    return web.json_response(templates.describe_all())


def _template_name(request: web.Request) -> str:
    return request.match_info["name"]


async def get_policy_template(request: web.Request) -> web.Response:
    try:
        return web.json_response(templates.describe(_template_name(request)))
    except LookupError as exc:
        raise Problem(404, "Not Found", detail=str(exc.args[0])) from None


async def instantiate_policy_template(request: web.Request) -> web.Response:
    """Store the template, with these parameters, as a policy (then offer it with /offers)."""
    dsp = dsp_of(request)
    payload = await read_json(request) if request.can_read_body else {}
    if not isinstance(payload, dict) or set(payload) - {"id", "parameters"}:
        raise Problem(400, "Bad Request", detail='a JSON object {"id"?, "parameters"?}')
    values = payload.get("parameters") or {}
    pol_id = payload.get("id") or new_id()
    if not isinstance(values, dict) or not isinstance(pol_id, str) or len(pol_id) > 300:
        raise Problem(400, "Bad Request", detail="/parameters: an object; /id: a string")
    try:
        rules = templates.instantiate(_template_name(request), pol_id, dsp.did, values)
    except LookupError as exc:
        raise Problem(404, "Not Found", detail=str(exc.args[0])) from None
    except templates.TemplateError as exc:
        raise Problem(400, "Bad Request", detail=str(exc)) from None
    return await _store_policy(dsp, pol_id, rules)


async def list_policies(request: web.Request) -> web.Response:
    rows = await _rows(request, policies)
    return web.json_response([{"id": r.id, **json.loads(r.policy)} for r in rows])


async def get_policy(request: web.Request) -> web.Response:
    row = await _row_or_404(request, policies.c.id, "id", "policy")
    return web.json_response({"id": row.id, **json.loads(row.policy)})


async def put_policy(request: web.Request) -> web.Response:
    """Replace a policy's rules; the offers using it offer the new rules from now on
    (agreements already made keep the terms they copied)."""
    dsp = dsp_of(request)
    data = await body(request, PolicyIn)
    pol_id = request.match_info["id"]
    if data.id is not None and data.id != pol_id:
        raise Problem(400, "Bad Request", detail="/id: differs from the path")
    rules = data.model_dump(exclude_none=True, exclude={"id"})
    _check_policy({"@id": pol_id, **rules})
    async with dsp.transaction() as conn:
        found = await conn.execute(select(policies.c.id).where(policies.c.id == pol_id))
        if not found.first():
            raise Problem(404, "Not Found", detail="no such policy")
        await conn.execute(
            update(policies).where(policies.c.id == pol_id).values(policy=json.dumps(rules))
        )
    return web.json_response({"id": pol_id, **rules})


async def delete_policy(request: web.Request) -> web.Response:
    dsp = dsp_of(request)
    pol_id = request.match_info["id"]
    async with dsp.transaction() as conn:
        found = await conn.execute(select(policies.c.id).where(policies.c.id == pol_id))
        if not found.first():
            raise Problem(404, "Not Found", detail="no such policy")
        used = await conn.execute(select(offers.c.id).where(offers.c.policy_id == pol_id))
        if used.first():
            raise Problem(409, "Conflict", detail="offers use this policy: remove them first")
        await conn.execute(delete(policies).where(policies.c.id == pol_id))
    return web.Response(status=204)


async def create_offer(request: web.Request) -> web.Response:
    dsp = dsp_of(request)
    data = await body(request, OfferIn)
    offer_id = data.id or new_id()
    async with dsp.transaction() as conn:
        if not (
            await conn.execute(select(datasets.c.id).where(datasets.c.id == data.dataset_id))
        ).first():
            raise Problem(404, "Not Found", detail="datasetId: no such dataset")
        if not (
            await conn.execute(select(policies.c.id).where(policies.c.id == data.policy_id))
        ).first():
            raise Problem(404, "Not Found", detail="policyId: no such policy")
        if (await conn.execute(select(offers.c.id).where(offers.c.id == offer_id))).first():
            raise Problem(409, "Conflict", detail=f"offer {offer_id} exists")
        await conn.execute(
            insert(offers).values(
                id=offer_id,
                dataset_id=data.dataset_id,
                policy_id=data.policy_id,
                approval=data.approval,
                token_binding=data.token_binding,
                decisions=data.decisions.stored() if data.decisions else None,
                created_at=now(),
            )
        )
        found = await find_offer(conn, offer_id)
    assert found is not None
    return web.json_response(
        {
            "id": offer_id,
            "datasetId": data.dataset_id,
            "policyId": data.policy_id,
            "approval": data.approval,
            "tokenBinding": data.token_binding,
            "decisions": data.decisions.model_dump(by_alias=True, exclude_none=True)
            if data.decisions
            else {},
            "offer": found[1],
        },
        status=201,
    )


def offer_view(r: Any) -> dict[str, Any]:
    return {
        "id": r.id,
        "datasetId": r.dataset_id,
        "policyId": r.policy_id,
        "approval": r.approval or "automatic",
        "tokenBinding": r.token_binding or "bearer",
        "decisions": json.loads(r.decisions) if r.decisions else {},
    }


async def list_offers(request: web.Request) -> web.Response:
    """All offers; ``?datasetId=`` keeps one dataset's."""
    rows = await _rows(request, offers)
    wanted = request.query.get("datasetId")
    return web.json_response(
        [offer_view(r) for r in rows if wanted is None or r.dataset_id == wanted]
    )


async def get_offer(request: web.Request) -> web.Response:
    row = await _row_or_404(request, offers.c.id, "id", "offer")
    return web.json_response(offer_view(row))


async def delete_offer(request: web.Request) -> web.Response:
    """Withdraw an offer from the catalog at once; agreements made on it keep their terms."""
    dsp = dsp_of(request)
    offer_id = request.match_info["id"]
    async with dsp.transaction() as conn:
        found = await conn.execute(select(offers.c.id).where(offers.c.id == offer_id))
        if not found.first():
            raise Problem(404, "Not Found", detail="no such offer")
        await conn.execute(delete(offers).where(offers.c.id == offer_id))
    return web.Response(status=204)


# ---------------------------------------------------------------------- remote catalogs


async def _peer_call(
    dsp: Dsp, method: str, url: str, did: str, payload: Any = None
) -> tuple[int, Any, list[str]]:
    """One call to a peer through the guarded client: (status, JSON or None, Link values)."""
    token = await dsp.issuer.token_for(did)
    try:
        got = await dsp.ctx.peers().request(
            method, url, json_body=payload, headers={"Authorization": f"Bearer {token}"}
        )
    except OutboundError as exc:
        raise _unreachable(url, exc) from None
    try:
        doc = safe_json.loads(got.body) if got.body else None
    except ValueError:
        doc = None
    return got.status, doc, got.header_values("Link")


def _unreachable(url: str, exc: OutboundError) -> Problem:
    """502 (or 504 when it timed out) naming the peer and the cause, and for a refusal by the
    outgoing-request policy the setting that would allow it."""
    cause = exc.detail.removeprefix(url + ": ")
    timed_out = "timeout" in cause.lower() or "timed out" in cause.lower()
    detail = f"cannot reach the peer at {url[:200]}: {cause}"
    detail += setting_hint(exc)
    status, title = (504, "Gateway Timeout") if timed_out else (502, "Bad Gateway")
    return Problem(status, title, detail=detail, peer=url[:200])


async def _advertised_base(dsp: Dsp, base: str) -> str | None:
    """The DSP base URL the peer at ``base``'s origin advertises in its
    ``/.well-known/dspace-version`` document (DSP 2025-1 §4.3), if it differs from ``base``."""
    split = urlsplit(base)
    root = f"{split.scheme}://{split.netloc}"
    well_known = root + "/.well-known/dspace-version"
    try:
        got = await dsp.ctx.peers().request("GET", well_known)
        doc = safe_json.loads(got.body) if got.status == 200 and got.body else None
    except (OutboundError, ValueError):
        return None
    versions = doc.get("protocolVersions") if isinstance(doc, dict) else None
    for entry in versions if isinstance(versions, list) else []:
        path = entry.get("path") if isinstance(entry, dict) else None
        if isinstance(path, str) and path.startswith("/"):
            found = root + path.rstrip("/")
            if found.rstrip("/") != base.rstrip("/"):
                try:
                    return check_callback(found, dsp.policy)
                except CallbackRefused:
                    return None
    return None


def _peer_status_problem(status: int, url: str, doc: Any, advertised: str | None) -> Problem:
    detail = f"the peer answered {status} at {url[:200]}"
    if status == 404:
        detail += (
            "; is counterPartyAddress the peer's DSP endpoint (for an Agora connector its base"
            " URL followed by /dsp)? Its /.well-known/dspace-version "
            + ("names " + advertised if advertised else "names no other endpoint")
        )
    return Problem(502, "Bad Gateway", detail=detail, peer=doc)


_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_REL = re.compile(r"""rel\s*=\s*"?([^";]*)"?""", re.IGNORECASE)


def _next_link(values: list[str]) -> str | None:
    """The target of a ``Link: <…>; rel="next"`` header (RFC 8288), if any."""
    for value in values:
        for target, params in _LINK.findall(value):
            rel = _REL.search(params)
            if rel is not None and "next" in rel.group(1).lower().split():
                return str(target)
    return None


async def request_catalog(request: web.Request) -> web.Response:
    """Fetch a peer's whole catalog (following its Link rel=next pages), as DSP JSON."""
    dsp = dsp_of(request)
    data = await body(request, CatalogRequestIn)
    base, did = _peer(dsp, data.counter_party_address, data.counter_party_id)
    url: str | None = join(base, "catalog/request")
    merged: dict[str, Any] | None = None
    pages = 0
    request_msg = {"@context": [m.DSP_CONTEXT], "@type": "CatalogRequestMessage"}
    while url and pages < 100:
        status, doc, links = await _peer_call(dsp, "POST", url, did, request_msg)
        if status == 404 and pages == 0:
            # a base URL without the DSP path: use the endpoint the peer itself advertises
            advertised = await _advertised_base(dsp, base)
            if advertised is None:
                raise _peer_status_problem(status, url, doc, None)
            base, url = advertised, join(advertised, "catalog/request")
            status, doc, links = await _peer_call(dsp, "POST", url, did, request_msg)
        if status != 200:
            raise _peer_status_problem(status, url, doc, None)
        try:
            validate("Catalog", doc)
        except SchemaViolation as exc:
            raise Problem(502, "Bad Gateway", detail=f"invalid catalog: {exc.reason}") from None
        if merged is None:
            merged = doc
        elif doc.get("dataset"):
            merged.setdefault("dataset", []).extend(doc["dataset"])
        pages += 1
        nxt = _next_link(links)
        url = urljoin(url, nxt) if nxt else None
        if url:  # the next page must be on the peer's own origin, and pass the policy
            if origin(url) != origin(base):
                raise Problem(502, "Bad Gateway", detail="the next catalog page is on another host")
            _peer(dsp, url.split("?", 1)[0], did)
    if merged is not None:  # the Agora extensions it advertises count like its DID document's
        async with dsp.transaction() as conn:
            await remember_catalog(conn, did, merged)
    return web.json_response(merged)


async def request_dataset(request: web.Request) -> web.Response:
    dsp = dsp_of(request)
    data = await body(request, DatasetRequestIn)
    base, did = _peer(dsp, data.counter_party_address, data.counter_party_id)
    url = join(base, "catalog/datasets", segment(data.dataset_id))
    status, doc, _ = await _peer_call(dsp, "GET", url, did)
    if status == 404:
        advertised = await _advertised_base(dsp, base)
        if advertised is not None:
            url = join(advertised, "catalog/datasets", segment(data.dataset_id))
            status, doc, _ = await _peer_call(dsp, "GET", url, did)
    if status != 200:
        raise Problem(
            404 if status == 404 else 502, "Peer error", detail=f"status {status}", peer=doc
        )
    return web.json_response(doc)


# ---------------------------------------------------------------------- negotiations


def negotiation_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.pid,
        "role": row.role,
        "state": row.state,
        "providerPid": row.provider_pid,
        "consumerPid": row.consumer_pid,
        "counterPartyId": row.counterparty_did,
        "counterPartyAddress": row.counterparty_address,
        "datasetId": row.dataset_id,
        "offer": json.loads(row.offer) if row.offer else None,
        "agreementId": row.agreement_id,
        "awaitingApproval": bool(row.awaiting_approval) and row.state == NState.REQUESTED.value,
        "pendingDecision": row.pending_decision,
        "error": row.error,
        "createdAt": row.created_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
    }


async def _negotiation(conn: Any, pid: str) -> Any:
    from connector.dsp.negotiation import lock

    row = await lock(conn, pid)
    if row is None:
        raise Problem(404, "Not Found", detail="no such negotiation")
    return row


async def start_negotiation(request: web.Request) -> web.Response:
    """Consumer: send a ContractRequestMessage for an offer of the peer's catalog."""
    dsp = dsp_of(request)
    data = await body(request, NegotiationIn)
    base, did = _peer(dsp, data.counter_party_address, data.counter_party_id)
    offer = dict(data.offer)
    target = offer.get("target") or data.target
    if not target:
        raise Problem(400, "Bad Request", detail="the offer needs a target (or give 'target')")
    offer["target"] = target
    offer.setdefault("@type", "Offer")
    pid = new_id()
    msg = m.contract_request(pid, offer, callback_address=dsp.base_url)
    try:
        validate("ContractRequestMessage", msg)
    except SchemaViolation as exc:
        raise Problem(400, "Bad Request", detail=f"offer: {exc.reason}") from None
    async with dsp.transaction() as conn:
        await conn.execute(
            insert(negotiations).values(
                pid=pid,
                role=Role.CONSUMER.value,
                provider_pid=None,
                consumer_pid=pid,
                state="",
                counterparty_did=did,
                counterparty_address=base,
                dataset_id=target,
                offer=json.dumps({k: v for k, v in offer.items() if k != "target"}),
                decisions=data.decisions.stored() if data.decisions else None,
                created_at=now(),
                updated_at=now(),
            )
        )
        row = await _negotiation(conn, pid)
        await dsp.negotiations.send(
            conn, row, NMessage.REQUEST, msg, join(base, "negotiations/request")
        )
        row = await _negotiation(conn, pid)
    return web.json_response(negotiation_view(row), status=201)


async def offer_negotiation(request: web.Request) -> web.Response:
    """Provider: start a negotiation by offering one of our offers to a consumer."""
    dsp = dsp_of(request)
    data = await body(request, ProviderOfferIn)
    base, did = _peer(dsp, data.counter_party_address, data.counter_party_id)
    pid = new_id()
    async with dsp.transaction() as conn:
        found = await find_offer(conn, data.offer_id)
        if found is None:
            raise Problem(404, "Not Found", detail="offerId: no such offer")
        dataset_id, offer = found
        msg = m.contract_offer(pid, {**offer, "target": dataset_id}, callback_address=dsp.base_url)
        await conn.execute(
            insert(negotiations).values(
                pid=pid,
                role=Role.PROVIDER.value,
                provider_pid=pid,
                consumer_pid=None,
                state="",
                counterparty_did=did,
                counterparty_address=base,
                dataset_id=dataset_id,
                offer=json.dumps(offer),
                decisions=await offer_choices(conn, data.offer_id),
                created_at=now(),
                updated_at=now(),
            )
        )
        row = await _negotiation(conn, pid)
        await dsp.negotiations.send(
            conn, row, NMessage.OFFER, msg, join(base, "negotiations/offers")
        )
        row = await _negotiation(conn, pid)
    return web.json_response(negotiation_view(row), status=201)


def _need_peer_pid(row: Any) -> None:
    if not row.provider_pid or not row.consumer_pid:
        raise Problem(409, "Conflict", detail="the peer has not acknowledged the negotiation yet")


async def _negotiation_action(request: web.Request, action: str) -> web.Response:
    dsp = dsp_of(request)
    service = dsp.negotiations
    if action == "request":
        counter = await body(request, CounterRequestIn)
    if action == "offer":
        counter_offer = await body(request, CounterOfferIn)
    reason = None
    if action == "terminate" and request.can_read_body:
        reason = (await body(request, ReasonIn)).reason
    async with dsp.transaction() as conn:
        row = await _negotiation(conn, request.match_info["pid"])
        _need_peer_pid(row)
        try:
            if action == "terminate":
                await service.terminate(conn, row, reason or "terminated by the operator")
            elif action in ("agree", "offer"):
                if row.role != Role.PROVIDER:
                    raise Problem(409, "Conflict", detail=f"only the provider can {action}")
                if action == "agree":
                    await service.approve(conn, row)
                else:
                    offer = {
                        k: v
                        for k, v in counter_offer.offer.items()
                        if k not in ("@id", "@type", "target")
                    }
                    _check_policy({"@id": "urn:uuid:counter-offer", **offer})
                    await service.counter_offer(conn, row, offer)
            elif action == "accept":
                if row.role != Role.CONSUMER:
                    raise Problem(409, "Conflict", detail="only the consumer accepts an offer")
                event = m.negotiation_event(row.provider_pid, row.consumer_pid, "ACCEPTED")
                await service.send(
                    conn, row, NMessage.ACCEPTED, event, service.peer_url(row, "events")
                )
            else:
                if row.role != Role.CONSUMER:
                    raise Problem(409, "Conflict", detail="only the consumer sends a request")
                offer = {**counter.offer, "target": row.dataset_id}
                offer.setdefault("@type", "Offer")
                msg = m.contract_request(row.consumer_pid, offer, provider_pid=row.provider_pid)
                try:
                    validate("ContractRequestMessage", msg)
                except SchemaViolation as exc:
                    raise Problem(400, "Bad Request", detail=f"offer: {exc.reason}") from None
                await service.send(
                    conn,
                    row,
                    NMessage.REQUEST,
                    msg,
                    service.peer_url(row, "request"),
                    offer=json.dumps(counter.offer),
                )
        except IllegalTransition as exc:
            raise Problem(409, "Conflict", detail=str(exc)) from None
        row = await _negotiation(conn, row.pid)
    return web.json_response(negotiation_view(row))


async def agree_negotiation(request: web.Request) -> web.Response:
    return await _negotiation_action(request, "agree")


async def provider_counter_offer(request: web.Request) -> web.Response:
    return await _negotiation_action(request, "offer")


async def accept_negotiation(request: web.Request) -> web.Response:
    return await _negotiation_action(request, "accept")


async def counter_negotiation(request: web.Request) -> web.Response:
    return await _negotiation_action(request, "request")


async def terminate_negotiation(request: web.Request) -> web.Response:
    return await _negotiation_action(request, "terminate")


async def list_negotiations(request: web.Request) -> web.Response:
    return web.json_response([negotiation_view(r) for r in await _rows(request, negotiations)])


async def get_negotiation(request: web.Request) -> web.Response:
    row = await _row_or_404(request, negotiations.c.pid, "pid", "negotiation")
    return web.json_response(negotiation_view(row))


# ---------------------------------------------------------------------- agreements


def agreement_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "negotiationId": row.negotiation_pid,
        "providerId": row.provider_did,
        "consumerId": row.consumer_did,
        "target": row.target,
        "agreement": json.loads(row.agreement),
        "signature": row.signature,
        "createdAt": row.created_at.isoformat(),
    }


async def list_agreements(request: web.Request) -> web.Response:
    return web.json_response([agreement_view(r) for r in await _rows(request, agreements)])


async def get_agreement(request: web.Request) -> web.Response:
    row = await _row_or_404(request, agreements.c.id, "id", "agreement")
    return web.json_response(agreement_view(row))


# ---------------------------------------------------------------------- transfers


def transfer_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.pid,
        "role": row.role,
        "state": row.state,
        "providerPid": row.provider_pid,
        "consumerPid": row.consumer_pid,
        "agreementId": row.agreement_id,
        "format": row.format,
        "counterPartyId": row.counterparty_did,
        "dataAddress": json.loads(row.data_address) if row.data_address else None,
        "pendingDecision": row.pending_decision,
        "error": row.error,
        "createdAt": row.created_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
    }


async def _transfer(conn: Any, pid: str) -> Any:
    from connector.dsp.transfer import lock

    row = await lock(conn, pid)
    if row is None:
        raise Problem(404, "Not Found", detail="no such transfer")
    return row


async def start_transfer(request: web.Request) -> web.Response:
    """Consumer: send a TransferRequestMessage under a finalized agreement."""
    dsp = dsp_of(request)
    data = await body(request, TransferIn)
    if data.format in PUSH_FORMATS:
        if not data.data_address:
            raise Problem(400, "Bad Request", detail=f"dataAddress: required for {data.format}")
        try:
            check_callback(data.data_address.get("endpoint"), dsp.policy)
        except CallbackRefused as exc:
            raise Problem(400, "Bad Request", detail=f"dataAddress.endpoint: {exc}") from None
    pid = new_id()
    async with dsp.transaction() as conn:
        found = (
            await conn.execute(
                select(agreements, negotiations.c.state, negotiations.c.counterparty_address)
                .join(negotiations, negotiations.c.pid == agreements.c.negotiation_pid)
                .where(agreements.c.id == data.agreement_id)
                .where(negotiations.c.role == Role.CONSUMER.value)
            )
        ).first()
        if found is None:
            raise Problem(404, "Not Found", detail="agreementId: no agreement as consumer")
        if found.state != NState.FINALIZED.value:
            raise Problem(409, "Conflict", detail=f"the negotiation is {found.state}")
        # a PULL names the key our pull proxy signs DPoP proofs with; the provider binds its
        # tokens to it if the offer asks for that, and ignores it otherwise
        jkt = key_thumbprint(dsp.identity.key) if data.format == FORMAT_PULL else None
        msg = m.transfer_request(
            pid, data.agreement_id, data.format, dsp.base_url, data.data_address, jkt
        )
        try:
            validate("TransferRequestMessage", msg)
        except SchemaViolation as exc:
            raise Problem(400, "Bad Request", detail=exc.reason) from None
        await conn.execute(
            insert(transfers).values(
                pid=pid,
                role=Role.CONSUMER.value,
                provider_pid=None,
                consumer_pid=pid,
                state="",
                agreement_id=data.agreement_id,
                format=data.format,
                counterparty_did=found.provider_did,
                counterparty_address=found.counterparty_address,
                created_at=now(),
                updated_at=now(),
            )
        )
        row = await _transfer(conn, pid)
        await dsp.transfers.send(
            conn, row, TMessage.REQUEST, msg, join(found.counterparty_address, "transfers/request")
        )
        row = await _transfer(conn, pid)
    return web.json_response(transfer_view(row), status=201)


ACTIONS = {
    "suspend": TMessage.SUSPENSION,
    "resume": TMessage.START,
    "complete": TMessage.COMPLETION,
    "terminate": TMessage.TERMINATION,
}


async def transfer_action(request: web.Request) -> web.Response:
    dsp = dsp_of(request)
    kind = ACTIONS.get(request.match_info["action"])
    if kind is None:
        raise Problem(404, "Not Found", detail="actions: suspend, resume, complete, terminate")
    reason = (await body(request, ReasonIn)).reason if request.can_read_body else None
    async with dsp.transaction() as conn:
        row = await _transfer(conn, request.match_info["pid"])
        if not row.provider_pid or not row.consumer_pid:
            raise Problem(409, "Conflict", detail="the peer has not acknowledged the transfer yet")
        try:
            await dsp.transfers.act(conn, row, kind, reason)
        except TIllegal as exc:
            raise Problem(409, "Conflict", detail=str(exc)) from None
        row = await _transfer(conn, row.pid)
    return web.json_response(transfer_view(row))


async def list_transfers(request: web.Request) -> web.Response:
    return web.json_response([transfer_view(r) for r in await _rows(request, transfers)])


async def get_transfer(request: web.Request) -> web.Response:
    row = await _row_or_404(request, transfers.c.pid, "pid", "transfer")
    return web.json_response(transfer_view(row))


class EntityTypeQuery(BaseModel):
    entityType: str | None = Field(
        default=None, description="a full IRI, or a short name of the NGSI-LD core context"
    )


class DatasetIdQuery(BaseModel):
    datasetId: str | None = Field(default=None, description="only this dataset's")


class StateQuery(BaseModel):
    state: str | None = Field(default=None, description="only processes in this DSP state")


class TemplateIn(BaseModel):
    """A policy made from a template (both members optional)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, max_length=300, description="default: a new urn:uuid")
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="the template's parameters (camelCase or snake_case)"
    )


PEER = (502, 504)  # the peer could not be reached, timed out, or answered wrongly
_R = Route
ROUTES: list[Route] = [
    _R(
        "POST",
        "/datasets",
        create_dataset,
        "Publish a dataset (an NGSI-LD scope)",
        request=DatasetIn,
        response=v.DatasetView,
        status=201,
        errors=(409,),
        tags=("datasets",),
        example={
            "title": "Air quality",
            "entityTypes": ["AirQualityObserved"],
            "@context": "https://smartdatamodels.org/context.jsonld",
        },
    ),
    _R(
        "GET",
        "/datasets",
        list_datasets,
        "List datasets",
        query=EntityTypeQuery,
        response=v.DATASETS,
    ),
    _R("GET", "/datasets/{id}", get_dataset, "One dataset", response=v.DatasetView),
    _R(
        "PATCH",
        "/datasets/{id}",
        patch_dataset,
        "Change a dataset (its scope: if not granted)",
        request=DatasetPatch,
        response=v.DatasetView,
        errors=(409,),
        example={"title": "Air quality (hourly)"},
    ),
    _R(
        "DELETE",
        "/datasets/{id}",
        delete_dataset,
        "Delete a dataset nothing refers to",
        status=204,
        errors=(409,),
    ),
    _R(
        "POST",
        "/policies",
        create_policy,
        "Store an ODRL policy",
        request=PolicyIn,
        response=v.PolicyView,
        status=201,
        errors=(409,),
        example={
            "permission": [
                {
                    "action": "use",
                    "constraint": [
                        {"leftOperand": "purpose", "operator": "eq", "rightOperand": "research"}
                    ],
                }
            ]
        },
    ),
    _R("GET", "/policies", list_policies, "List policies", response=v.POLICIES),
    _R("GET", "/policies/{id}", get_policy, "One policy", response=v.PolicyView),
    _R(
        "PUT",
        "/policies/{id}",
        put_policy,
        "Replace a policy's rules",
        request=PolicyIn,
        response=v.PolicyView,
        example={"permission": [{"action": "use"}]},
    ),
    _R(
        "DELETE",
        "/policies/{id}",
        delete_policy,
        "Delete a policy no offer uses",
        status=204,
        errors=(409,),
    ),
    _R(
        "GET",
        "/policy-templates",
        list_policy_templates,
        "The city policy templates",
        response=v.TEMPLATES,
        tags=("policies",),
    ),
    _R(
        "GET",
        "/policy-templates/{name}",
        get_policy_template,
        "One template and its parameters",
        response=v.TemplateView,
        tags=("policies",),
    ),
    _R(
        "POST",
        "/policy-templates/{name}",
        instantiate_policy_template,
        "Store a policy made from a template",
        request=TemplateIn,
        body_required=False,
        response=v.PolicyView,
        status=201,
        errors=(409,),
        tags=("policies",),
    ),
    _R(
        "POST",
        "/offers",
        create_offer,
        "Offer a dataset under a policy",
        request=OfferIn,
        response=v.CreatedOfferView,
        status=201,
        errors=(409,),
        example={"datasetId": "urn:uuid:…", "policyId": "urn:uuid:…", "approval": "automatic"},
    ),
    _R("GET", "/offers", list_offers, "List offers", query=DatasetIdQuery, response=v.OFFERS),
    _R("GET", "/offers/{id}", get_offer, "One offer", response=v.OfferView),
    _R("DELETE", "/offers/{id}", delete_offer, "Withdraw an offer from the catalog", status=204),
    _R(
        "POST",
        "/catalog/request",
        request_catalog,
        "Fetch another connector's catalog",
        request=CatalogRequestIn,
        response=v.DspCatalog,
        errors=PEER,
        example={"counterPartyAddress": "https://city.example/dsp"},
    ),
    _R(
        "POST",
        "/catalog/dataset",
        request_dataset,
        "Fetch one dataset of another connector",
        request=DatasetRequestIn,
        response=v.DspDataset,
        errors=(404, *PEER),
        example={"counterPartyAddress": "https://city.example/dsp", "datasetId": "urn:uuid:…"},
    ),
    _R(
        "POST",
        "/negotiations",
        start_negotiation,
        "Consumer: request an offer",
        request=NegotiationIn,
        response=v.NegotiationView,
        status=201,
        errors=PEER,
        example={
            "counterPartyAddress": "https://city.example/dsp",
            "offer": {
                "@id": "urn:offer:…",
                "target": "urn:uuid:…",
                "permission": [{"action": "use"}],
            },
        },
    ),
    _R(
        "POST",
        "/negotiations/offers",
        offer_negotiation,
        "Provider: offer to a consumer",
        request=ProviderOfferIn,
        response=v.NegotiationView,
        status=201,
        errors=(404, *PEER),
    ),
    _R(
        "GET",
        "/negotiations",
        list_negotiations,
        "List negotiations",
        query=StateQuery,
        response=v.NEGOTIATIONS,
    ),
    _R(
        "GET",
        "/negotiations/{pid}",
        get_negotiation,
        "Inspect a negotiation",
        response=v.NegotiationView,
    ),
    _R(
        "POST",
        "/negotiations/{pid}/accept",
        accept_negotiation,
        "Consumer: accept the offer",
        response=v.NegotiationView,
        errors=(409,),
    ),
    _R(
        "POST",
        "/negotiations/{pid}/request",
        counter_negotiation,
        "Consumer: counter-request",
        request=CounterRequestIn,
        response=v.NegotiationView,
        errors=(409,),
    ),
    _R(
        "POST",
        "/negotiations/{pid}/terminate",
        terminate_negotiation,
        "Terminate a negotiation",
        request=ReasonIn,
        body_required=False,
        response=v.NegotiationView,
        errors=(409,),
    ),
    _R(
        "POST",
        "/negotiations/{pid}/agree",
        agree_negotiation,
        "Provider: agree to a held request",
        response=v.NegotiationView,
        errors=(409,),
    ),
    _R(
        "POST",
        "/negotiations/{pid}/offer",
        provider_counter_offer,
        "Provider: counter-offer",
        request=CounterOfferIn,
        response=v.NegotiationView,
        errors=(409,),
    ),
    _R("GET", "/agreements", list_agreements, "List agreements", response=v.AGREEMENTS),
    _R(
        "GET",
        "/agreements/{id}",
        get_agreement,
        "An agreement with its provider signature",
        response=v.AgreementView,
    ),
    _R(
        "POST",
        "/transfers",
        start_transfer,
        "Consumer: request a transfer",
        request=TransferIn,
        response=v.TransferView,
        status=201,
        errors=(404, 409),
        example={"agreementId": "urn:uuid:…", "format": "NGSI-LD-PULL"},
    ),
    _R(
        "GET",
        "/transfers",
        list_transfers,
        "List transfers",
        query=StateQuery,
        response=v.TRANSFERS,
    ),
    _R("GET", "/transfers/{pid}", get_transfer, "Inspect a transfer", response=v.TransferView),
    _R(
        "POST",
        "/transfers/{pid}/{action}",
        transfer_action,
        "suspend | resume | complete | terminate",
        request=ReasonIn,
        body_required=False,
        response=v.TransferView,
        errors=(409,),
    ),
]


def add_routes(app: web.Application) -> None:
    routes.add_routes(app, ROUTES)
