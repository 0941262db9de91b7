"""Public pages, no sign-in: the catalog (``/``), an offering, ``/acquire`` and ``/transparency``.

The catalog lists this connector's published offerings and, where the federated catalog runs
here, the search of every member's datasets with its facets (the same index as the search API).
``/transparency`` shows aggregates only: per consumer, purpose and terms, how many agreements
and how many data requests were answered, each line linked to the inclusion proof of its
agreement's record in this participant's ledger — never a single request or a resident's data.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from sqlalchemy import select

from connector.dsp.tables import agreements, datasets
from connector.http.context import CTX
from connector.market import store
from connector.web.guard import PAGES_KEY as PAGES
from connector.web.plain import offering_view, purposes, short, terms_lines
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.query import parse_query
from marketplace.offerings import Lifecycle

#: (the index's facet name, the search parameter that filters on it)
FACETS = (
    ("publisher", "publisher"),
    ("priceModel", "price_model"),
    ("license", "license"),
    ("hvdCategory", "hvd_category"),
)


def _dsp(request: web.Request) -> Any:
    return request.app[CTX].components["dsp"]


async def _own_offerings(request: web.Request, words: str) -> list[dict[str, Any]]:
    async with request.app[CTX].db.connect() as conn:
        found = await store.current_versions(conn, lifecycle=Lifecycle.PUBLISHED.value)
    views = [offering_view(o) for o in found]
    for word in words.lower().split():
        views = [v for v in views if word in (v["name"] + " " + v["description"]).lower()]
    return views


async def _federated(request: web.Request) -> dict[str, Any] | None:
    """The federated search's answer for the page's query, or None where it is off."""
    catalog = request.app[CTX].components.get("catalog")
    if catalog is None or not catalog.enabled or catalog.index is None:
        return None
    params = {k: v for k, v in request.query.items() if k != "lang" and v != ""}
    params["facets"] = "true"
    try:
        query = parse_query(params)
    except CatalogError as exc:
        return {"error": str(exc), "field": exc.field, "items": [], "facets": {}, "total": 0}
    found = await catalog.index.search(query)
    endpoints = {n.did: n.url for n in (await catalog.index.load_nodes()).values()}
    items = []
    for item in found.items:
        provider = endpoints.get(item.get("node", ""))
        acquire = None
        if provider:  # the member's DSP endpoint: acquire from this connector's console
            acquire = "/console/acquire?" + urlencode(
                {
                    "provider": provider,
                    "providerId": item.get("node", ""),
                    "dataset": item.get("datasetId", ""),
                    "name": item.get("title", ""),
                }
            )
        items.append({**item, "acquire": acquire})
    return {"items": items, "facets": found.facets, "total": found.total, "error": None}


async def home(request: web.Request) -> web.Response:
    pages = request.app[PAGES]
    words = request.query.get("q", "")[:200]
    ctx = request.app[CTX]
    return pages.render(
        request,
        "catalog.html",
        q=words,
        participant=ctx.settings.participant.name,
        offerings=await _own_offerings(request, words),
        federated=await _federated(request),
        facet_names=FACETS,
        query=dict(request.query),
        short=short,
    )


async def offering_page(request: web.Request) -> web.Response:
    pages = request.app[PAGES]
    async with request.app[CTX].db.connect() as conn:
        history = await store.history(conn, request.match_info["id"])
        offering = history.current if history is not None else None
        ds = None
        if offering is not None:
            ds = (
                await conn.execute(select(datasets).where(datasets.c.id == offering.dataset_id))
            ).first()
    if offering is None or offering.lifecycle is not Lifecycle.PUBLISHED:
        return pages.render(request, "error.html", status=404, message="no such offering")
    ctx = request.app[CTX]
    return pages.render(
        request,
        "offering.html",
        offering=offering_view(offering),
        dataset=None
        if ds is None
        else {
            "title": ds.title,
            "description": ds.description or "",
            "types": [short(t) for t in json.loads(ds.entity_types)],
        },
        provider=ctx.settings.public_url + "/dsp",
        error=request.query.get("error"),
    )


def _buyer_base(raw: str) -> str | None:
    """The buyer's connector as typed: an http(s) URL with a host, nothing else."""
    raw = raw.strip()
    if len(raw) > 500:
        return None
    split = urlsplit(raw)
    if split.scheme not in ("http", "https") or not split.hostname:
        return None
    return f"{split.scheme}://{split.netloc}{split.path.rstrip('/')}"


async def acquire(request: web.Request) -> web.Response:
    """The offering page's form: send the buyer to their own console's acquire page."""
    query = request.query
    offering_id = query.get("offering", "")
    buyer = _buyer_base(query.get("buyer", ""))
    if buyer is None:
        back = urlencode({"error": "buyer"})
        raise web.HTTPSeeOther(f"/offerings/{offering_id}?{back}#acquire")
    params = {
        "provider": request.app[CTX].settings.public_url + "/dsp",
        "providerId": request.app[CTX].settings.did,
        "dataset": query.get("dataset", "")[:300],
        "offer": query.get("offer", "")[:300],
        "name": query.get("name", "")[:200],
    }
    raise web.HTTPSeeOther(f"{buyer}/console/acquire?{urlencode(params)}")


async def _usage_lines(request: web.Request) -> list[dict[str, Any]]:
    ctx = request.app[CTX]
    me = ctx.settings.did
    async with ctx.db.connect() as conn:
        rows = (
            await conn.execute(
                select(agreements)
                .where(agreements.c.provider_did == me)
                .order_by(agreements.c.created_at)
            )
        ).all()
    provenance = ctx.components.get("provenance")
    groups: dict[tuple[str, str, str], dict[str, Any]] = defaultdict(
        lambda: {"agreements": 0, "requests": 0, "refused": 0, "proofs": []}
    )
    for row in rows:
        policy = json.loads(row.agreement)
        kept = {k: policy[k] for k in ("permission", "prohibition") if k in policy}
        terms = " ".join(terms_lines(kept))
        purpose = ", ".join(short(p) for p in purposes(policy)) or "—"
        line = groups[(row.consumer_did, purpose, terms)]
        line["agreements"] += 1
        if provenance is None:
            continue
        for entry in await provenance.ledger.store.entries_for_agreement(row.id):
            record = json.loads(entry.data)
            if record.get("kind") == "access":
                line["requests" if record.get("decision") == "permit" else "refused"] += 1
            elif record.get("action") == "agreement:signed":
                line["proofs"].append(entry.index)
    return [
        {"consumer": c, "purpose": p, "terms": t, **v} for (c, p, t), v in sorted(groups.items())
    ]


async def transparency(request: web.Request) -> web.Response:
    pages = request.app[PAGES]
    ctx = request.app[CTX]
    return pages.render(
        request,
        "transparency.html",
        participant=ctx.settings.participant.name,
        did=ctx.settings.did,
        lines=await _usage_lines(request),
    )


async def proof(request: web.Request) -> web.Response:
    """The inclusion proof of one agreement record, against the current signed tree head."""
    ctx = request.app[CTX]
    provenance = ctx.components.get("provenance")
    raw = request.match_info["index"]
    if provenance is None or not raw.isdigit() or len(raw) > 12:
        return web.json_response({"title": "Not Found", "status": 404}, status=404)
    ledger = provenance.ledger
    index = int(raw)
    head = await ledger.tree_head()
    if index >= head.size:
        return web.json_response({"title": "Not Found", "status": 404}, status=404)
    entry = await ledger.entry(index)
    record = json.loads(entry.data)
    if record.get("action") != "agreement:signed" or record.get("provider") != ctx.settings.did:
        # only agreement records are public; access records stay with auditors
        return web.json_response({"title": "Not Found", "status": 404}, status=404)
    hashes = await ledger.inclusion_proof(index, head.size)
    return web.json_response(
        {
            "index": index,
            "leaf_hash": entry.leaf_hash.hex(),
            "record": record,
            "tree_head": head.to_json(),
            "inclusion_proof": [h.hex() for h in hashes],
            "log_id": ledger.log_id.hex(),
        }
    )
