"""The DCAT catalog: datasets (NGSI-LD scopes of our broker) with their ODRL offers.

A dataset is a slice of the provider's NGSI-LD broker: entity types, optionally a list of
attributes and an area (GeoJSON geometry). It appears in the DSP catalog once it has at least
one offer (the Dataset schema requires ``hasPolicy``), with four distributions: NGSI-LD-PULL,
NGSI-LD-PUSH, and the generic HTTP data plane of EDC-based connectors, HttpData-PULL (a plain
GET of the endpoint with the token, answered with the dataset's entities as JSON) and
HttpData-PUSH (the entities POSTed as JSON to the consumer's endpoint as they change), all
through the same PEP, usage records and provenance, served by this connector's data service.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Protocol

from aiohttp import web
from sqlalchemy import Select, func, select, union

from connector.dsp.errors import Area, Code, DspError
from connector.dsp.extensions import catalog_properties
from connector.dsp.messages import DSP_CONTEXT, PROTOCOL_VERSION
from connector.dsp.runtime import BASE_PATH, DSP_KEY, Dsp
from connector.dsp.tables import datasets, offers, policies
from connector.storage.inline import Conn

FORMAT_PULL = "NGSI-LD-PULL"
FORMAT_PUSH = "NGSI-LD-PUSH"
FORMAT_HTTP_PULL = "HttpData-PULL"
FORMAT_HTTP_PUSH = "HttpData-PUSH"
FORMATS = (FORMAT_PULL, FORMAT_PUSH, FORMAT_HTTP_PULL, FORMAT_HTTP_PUSH)
#: formats where the provider sends the data to the consumer's endpoint (a subscription)
PUSH_FORMATS = (FORMAT_PUSH, FORMAT_HTTP_PUSH)
#: formats whose start carries an endpoint and a token the consumer pulls with
PULL_FORMATS = (FORMAT_PULL, FORMAT_HTTP_PULL)
#: what a dataset served from a plain HTTP source (not the broker) is offered as
SOURCE_FORMATS = (FORMAT_HTTP_PULL,)
AGORA_NS = "https://w3id.org/agora/ngsi-ld#"
DEFAULT_PAGE = 50
MAX_PAGE = 200


def new_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def service_id(dsp: Dsp) -> str:
    return f"{dsp.base_url}#data-service"


def data_service(dsp: Dsp) -> dict[str, Any]:
    """Our DSP endpoint, with the Agora extensions it speaks (as in the DID document)."""
    return {
        "@id": service_id(dsp),
        "@type": "DataService",
        "endpointURL": dsp.base_url,
        **catalog_properties(dsp.ctx),
    }


def offer_document(offer_id: str, policy: dict[str, Any]) -> dict[str, Any]:
    """A catalog Offer: the policy's rules under the offer's id, without ``target``."""
    doc: dict[str, Any] = {"@id": offer_id, "@type": "Offer"}
    for key in ("profile", "permission", "prohibition", "obligation"):
        if key in policy:
            doc[key] = policy[key]
    return doc


class OfferSource(Protocol):
    """Offers published by another component (the marketplace's priced offerings), shown in the
    catalog and negotiable like the offers of ``dsp_offers``. A source reads only through the
    connection it is given, so one source serves every connector of the process."""

    def dataset_ids(self) -> Select[Any]:
        """A SELECT of the ids of the datasets this source has offers for."""

    async def offers_of(
        self, conn: Conn, dataset_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """The catalog Offers of each of these datasets (no ``target``)."""

    async def find_offer(self, conn: Conn, offer_id: str) -> tuple[str, dict[str, Any]] | None:
        """(dataset id, catalog offer) if ``offer_id`` is one of this source's open offers."""


#: The registered sources; a component adds its source once (see :func:`add_offer_source`).
OFFER_SOURCES: list[OfferSource] = []


def add_offer_source(source: OfferSource) -> None:
    if all(type(s) is not type(source) for s in OFFER_SOURCES):
        OFFER_SOURCES.append(source)


async def offers_of(conn: Conn, dataset_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    if not dataset_ids:
        return {}
    out = await _own_offers_of(conn, dataset_ids)
    for source in OFFER_SOURCES:
        for ds, docs in (await source.offers_of(conn, dataset_ids)).items():
            out.setdefault(ds, []).extend(docs)
    return out


async def _own_offers_of(conn: Conn, dataset_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    rows = await conn.execute(
        select(offers.c.id, offers.c.dataset_id, policies.c.policy)
        .join(policies, policies.c.id == offers.c.policy_id)
        .where(offers.c.dataset_id.in_(dataset_ids))
        .order_by(offers.c.created_at, offers.c.id)
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row.dataset_id, []).append(offer_document(row.id, json.loads(row.policy)))
    return out


MANUAL = "manual"
#: an open dataset's free offer: a click-through agreement, never an operator's decision
CLICK_THROUGH = json.dumps({"agree": "automatic", "finalize": "automatic"}, sort_keys=True)


def is_free_policy(policy: dict[str, Any]) -> bool:
    """No ``compensate`` duty: nothing to pay (the pricing profile's only way to ask)."""
    duties = policy.get("obligation") or []
    return not any(
        isinstance(d, dict) and str(d.get("action", "")).rsplit("/", 1)[-1] == "compensate"
        for d in (duties if isinstance(duties, list) else [duties])
    )


async def offer_choices(conn: Conn, offer_id: str) -> str | None:
    """The operator's choices for the decisions on this offer (JSON), ``approval: manual``
    included as the choice to agree; None when the offer leaves all to the defaults. A free
    offer on an open dataset (one with a licence) is a click-through: agreed and finalized
    automatically whatever the defaults, still negotiated over DSP and logged like any."""
    found = (
        await conn.execute(
            select(offers.c.approval, offers.c.decisions, datasets.c.license, policies.c.policy)
            .select_from(
                offers.outerjoin(datasets, datasets.c.id == offers.c.dataset_id).outerjoin(
                    policies, policies.c.id == offers.c.policy_id
                )
            )
            .where(offers.c.id == offer_id)
        )
    ).first()
    if found is None:
        return None
    if found.license and found.policy and is_free_policy(json.loads(found.policy)):
        return CLICK_THROUGH
    choices = json.loads(found.decisions) if found.decisions else {}
    if found.approval == MANUAL:
        choices["agree"] = MANUAL
    return json.dumps(choices, sort_keys=True) if choices else None


DPOP = "dpop"


async def offer_token_binding(conn: Conn, offer_id: str) -> str:
    """``bearer`` (default) or ``dpop``: whether pull tokens under this offer are bound to the
    consumer's key."""
    found = (
        await conn.execute(select(offers.c.token_binding).where(offers.c.id == offer_id))
    ).scalar_one_or_none()
    return str(found or "bearer")


async def find_offer(conn: Conn, offer_id: str) -> tuple[str, dict[str, Any]] | None:
    """(dataset id, catalog offer) for an offer id we published, or None."""
    row = (
        await conn.execute(
            select(offers.c.dataset_id, policies.c.policy)
            .join(policies, policies.c.id == offers.c.policy_id)
            .where(offers.c.id == offer_id)
        )
    ).first()
    if row is None:
        for source in OFFER_SOURCES:
            found = await source.find_offer(conn, offer_id)
            if found is not None:
                return found
        return None
    return row.dataset_id, offer_document(offer_id, json.loads(row.policy))


def dataset_document(dsp: Dsp, row: Any, offer_docs: list[dict[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@id": row.id,
        "@type": "Dataset",
        "dct:title": row.title,
        "hasPolicy": offer_docs,
        "distribution": [
            {"@type": "Distribution", "format": fmt, "accessService": data_service(dsp)}
            for fmt in (SOURCE_FORMATS if row.source else FORMATS)
        ],
    }
    if row.description:
        doc["dct:description"] = row.description
    doc[AGORA_NS + "entityType"] = json.loads(row.entity_types)
    if row.attributes:
        doc[AGORA_NS + "attribute"] = json.loads(row.attributes)
    if row.area:
        doc[AGORA_NS + "area"] = json.loads(row.area)
    if row.license:
        doc["dct:license"] = row.license
    return doc


def _offered() -> Any:
    own = select(offers.c.dataset_id).distinct()
    if not OFFER_SOURCES:
        return own
    return union(own, *(s.dataset_ids() for s in OFFER_SOURCES))


async def catalog_page(dsp: Dsp, offset: int, limit: int) -> tuple[dict[str, Any], int]:
    """One page of the catalog and the total number of datasets with offers."""
    async with dsp.ctx.db.connect() as conn:
        total = (
            await conn.execute(
                select(func.count()).select_from(datasets).where(datasets.c.id.in_(_offered()))
            )
        ).scalar_one()
        rows = (
            await conn.execute(
                select(datasets)
                .where(datasets.c.id.in_(_offered()))
                .order_by(datasets.c.created_at, datasets.c.id)
                .offset(offset)
                .limit(limit)
            )
        ).all()
        by_dataset = await offers_of(conn, [r.id for r in rows])
    catalog: dict[str, Any] = {
        "@context": [DSP_CONTEXT],
        "@id": f"{dsp.base_url}#catalog",
        "@type": "Catalog",
        "participantId": dsp.did,
        "dct:title": f"{dsp.ctx.settings.participant.name} catalog",
        "service": [data_service(dsp)],
    }
    docs = [dataset_document(dsp, r, by_dataset.get(r.id, [])) for r in rows]
    if docs:
        catalog["dataset"] = docs
    return catalog, int(total)


async def dataset_by_id(dsp: Dsp, dataset_id: str) -> dict[str, Any] | None:
    async with dsp.ctx.db.connect() as conn:
        row = (await conn.execute(select(datasets).where(datasets.c.id == dataset_id))).first()
        if row is None:
            return None
        docs = (await offers_of(conn, [dataset_id])).get(dataset_id, [])
    if not docs:
        return None
    return {"@context": [DSP_CONTEXT], **dataset_document(dsp, row, docs)}


def _int(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12 or int(raw) > high:
        raise DspError(Area.CATALOG, 400, Code.MALFORMED, f"{name} must be an integer 0..{high}")
    return int(raw)


async def catalog_request(request: web.Request) -> web.Response:
    """POST <base>/catalog/request: the catalog, paged with RFC 8288 Link headers."""
    dsp = request.app[DSP_KEY]
    await dsp.caller(request, Area.CATALOG)
    message = await dsp.message(request, "CatalogRequestMessage", Area.CATALOG)
    if message.get("filter"):
        raise DspError(
            Area.CATALOG, 400, Code.UNSUPPORTED_FILTER, "catalog filters are not supported"
        )
    offset = _int(request, "offset", 0, 10**9)
    limit = _int(request, "limit", DEFAULT_PAGE, MAX_PAGE) or DEFAULT_PAGE
    catalog, total = await catalog_page(dsp, offset, limit)
    links = []
    url = f"{dsp.base_url}/catalog/request"
    if offset > 0:
        links.append(f'<{url}?offset={max(0, offset - limit)}&limit={limit}>; rel="previous"')
    if offset + limit < total:
        links.append(f'<{url}?offset={offset + limit}&limit={limit}>; rel="next"')
    headers = {"Link": ", ".join(links)} if links else None
    return web.json_response(catalog, headers=headers)


async def dataset_request(request: web.Request) -> web.Response:
    """GET <base>/catalog/datasets/{id}."""
    dsp = request.app[DSP_KEY]
    await dsp.caller(request, Area.CATALOG)
    dataset = await dataset_by_id(dsp, request.match_info["id"])
    if dataset is None:
        raise DspError(Area.CATALOG, 404, Code.NOT_FOUND, "no such dataset in this catalog")
    return web.json_response(dataset)


def version_document(dsp: Dsp) -> dict[str, Any]:
    return {
        "protocolVersions": [
            {
                "version": PROTOCOL_VERSION,
                "path": BASE_PATH,
                "binding": "HTTPS",
                "serviceId": service_id(dsp),
                "identifierType": "did:web",
                "auth": {"protocol": "DCP", "version": "1.0", "profile": ["vc20-bssl/jwt"]},
            }
        ]
    }
