"""The catalog component: the periodic crawl and the /api/v1/catalog/search|nodes routes.

On by default for the authority (``[catalog] enabled`` turns it on or off anywhere). The index
and the crawler are ``marketplace.catalog``'s; this module wires them to the connector's
engine, its trust layer (who the members are, the guarded client) and its DSP token issuer.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, Field, TypeAdapter

from connector.catalog.discovery import targets
from connector.catalog.fetching import GuardedFetch
from connector.catalog.settings import CatalogSettings, catalog_settings, is_enabled
from connector.dsp.errors import Area, Code, DspError
from connector.http.context import ConnectorContext
from connector.http.problems import Problem
from connector.http.routes import Route, View, add_routes
from connector.management.api import MANAGEMENT_APP
from connector.storage.singleton import only_one_replica
from marketplace.catalog.crawler import Crawler, CrawlSettings
from marketplace.catalog.dcat_ap import FORMATS, dcat_ap_graph, serialise
from marketplace.catalog.entries import Limits
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.federated import catalog_of_catalogs
from marketplace.catalog.index import CatalogIndex, index_for
from marketplace.catalog.nodes import Backoff, NodeStatus
from marketplace.catalog.query import MAX_LIMIT, MAX_OFFSET, Query, parse_query
from marketplace.catalog.tmf620 import product_offering

FEDERATED_PATH = "/federated"
#: the public DCAT-AP document national open-data portals harvest (open data only, no key)
HARVEST_PATH = FEDERATED_PATH + "/dcat-ap"
#: datasets in one DCAT-AP export (the portal harvests the whole document)
EXPORT_LIMIT = 100_000
CATALOG_KEY: web.AppKey[Any] = web.AppKey("agora.catalog", object)


def node_view(status: NodeStatus) -> dict[str, Any]:
    def iso(v: Any) -> str | None:
        return None if v is None else v.isoformat()

    return {
        "did": status.did,
        "url": status.url,
        "state": status.state,
        "datasets": status.datasets,
        "refused": status.refused,
        "failures": status.failures,
        "lastSuccess": iso(status.last_success),
        "lastError": status.last_error,
        "lastErrorAt": iso(status.last_error_at),
        "nextAttempt": iso(status.next_attempt),
    }


class FederatedCatalog:
    name = "catalog"

    def __init__(self) -> None:
        self.ctx: ConnectorContext | None = None
        self.cfg = CatalogSettings()
        self.enabled = False
        self.index: CatalogIndex | None = None
        self.crawler: Crawler | None = None
        self.fetch: GuardedFetch | None = None
        self.registry_problem: str | None = None
        self._lock = asyncio.Lock()

    async def start(self, ctx: ConnectorContext) -> None:
        self.ctx = ctx
        self.cfg = catalog_settings(ctx.settings)
        self.enabled = is_enabled(ctx.settings, self.cfg)
        ctx.components[self.name] = self
        if not self.enabled:
            return
        self.index = index_for(ctx.engine)
        trust = ctx.components.get("trust")
        dsp = ctx.components["dsp"]
        from identity import FetchPolicy

        policy = trust.http.policy if trust is not None else FetchPolicy()
        self.fetch = GuardedFetch(
            policy,
            dsp.issuer,
            max_bytes=self.cfg.max_catalog_bytes,
            timeout_s=self.cfg.node_timeout_s,
        )
        crawl = CrawlSettings(
            period_s=self.cfg.period_s,
            concurrency=self.cfg.concurrency,
            node_timeout_s=self.cfg.node_timeout_s,
            limits=Limits(
                max_depth=self.cfg.max_depth,
                max_datasets=self.cfg.max_datasets_per_node,
                max_pages=self.cfg.max_pages,
            ),
            backoff=Backoff(base_s=self.cfg.backoff_s, dead_after=self.cfg.dead_after),
        )
        self.crawler = Crawler(self.index, self.fetch, crawl)
        ctx.tasks.spawn(self._periodic(), name="catalog-crawl")

    async def _own_membership(self) -> None:
        """The authority holds no membership credential from anyone else: it issues itself
        one, so members that require it answer its crawl (see Authority.hold_own_membership)."""
        assert self.ctx is not None
        trust = self.ctx.components.get("trust")
        if trust is None or not trust.is_authority:
            return
        from connector.trust.authority import Authority

        try:
            await Authority(trust).hold_own_membership()
        except Exception:  # the crawl goes on; the nodes that refuse us will say why
            self.ctx.log.exception("the authority could not issue its own membership credential")

    async def crawl_now(self, *, force: bool = True) -> list[NodeStatus]:
        """One round, unless another replica sharing the database is crawling (then none of
        the nodes are touched here and the answer is empty); ``force`` (an operator's "crawl
        now") waits for that round instead. A round reads the nodes' due times after taking the
        lock, so rounds never overlap nor repeat each other."""
        assert self.ctx is not None and self.crawler is not None
        async with (
            self._lock,
            only_one_replica(self.ctx.engine, "catalog-crawl", wait=force) as mine,
        ):
            if not mine:
                return []
            await self._own_membership()
            found, self.registry_problem = await targets(
                self.ctx.components.get("trust"), self.cfg, self.ctx.settings.did
            )
            return await self.crawler.crawl(found, force=force)

    async def _periodic(self) -> None:
        assert self.ctx is not None
        tick = min(self.cfg.period_s, max(1.0, self.cfg.backoff_s / 2))
        if not self.cfg.crawl_on_start:
            await asyncio.sleep(self.cfg.period_s)
        while True:
            try:
                await self.crawl_now(force=False)
            except Exception:  # one bad round must not end the crawler
                self.ctx.log.exception("catalog crawl round failed")
            await asyncio.sleep(tick)

    def mount(self, root: web.Application, ctx: ConnectorContext) -> None:
        api = root[MANAGEMENT_APP]
        api[CATALOG_KEY] = self
        root[CATALOG_KEY] = self
        root.router.add_post(FEDERATED_PATH + "/catalog/request", federated_catalog)
        root.router.add_get(HARVEST_PATH, harvest)
        add_routes(api, ROUTES)

    async def stop(self) -> None:
        if self.fetch is not None:
            await self.fetch.close()


def _catalog(request: web.Request) -> FederatedCatalog:
    found: FederatedCatalog = request.app[CATALOG_KEY]
    if not found.enabled or found.index is None:
        raise Problem(
            404, "Not Found", detail="the federated catalog is off here ([catalog] enabled)"
        )
    return found


async def search(request: web.Request) -> web.Response:
    """GET /api/v1/catalog/search?q=&type=&bbox=&price_max=&free=&publisher=…"""
    catalog = _catalog(request)
    try:
        query = parse_query(request.query)
    except CatalogError as exc:
        raise Problem(400, "Bad Request", detail=str(exc), parameter=exc.field) from None
    assert catalog.index is not None
    found = await catalog.index.search(query)
    body: dict[str, Any] = {
        "total": found.total,
        "totalExact": found.exact,
        "offset": query.offset,
        "limit": query.limit,
        "items": found.items,
    }
    if query.facets:
        body["facets"] = found.facets
    return web.json_response(body)


async def _export_items(
    catalog: FederatedCatalog, query: Query
) -> tuple[list[Any], dict[str, str]]:
    assert catalog.index is not None
    found = await catalog.index.search(query)
    endpoints = {n.did: n.url for n in (await catalog.index.load_nodes()).values()}
    return found.items, endpoints


async def federated_catalog(request: web.Request) -> web.Response:
    """POST /federated/catalog/request: the aggregated catalog over DSP (catalog of catalogs),
    to DCP-authenticated callers, paged with Link headers like our own DSP catalog."""
    catalog = _catalog(request)
    assert catalog.ctx is not None
    dsp = catalog.ctx.components["dsp"]
    await dsp.caller(request, Area.CATALOG)
    await dsp.message(request, "CatalogRequestMessage", Area.CATALOG)
    offset, limit = _page(request)
    items, endpoints = await _export_items(catalog, Query(sort="title", limit=limit, offset=offset))
    settings = catalog.ctx.settings
    base = settings.public_url + FEDERATED_PATH
    doc = catalog_of_catalogs(
        f"{base}#catalog",
        settings.did,
        f"{settings.participant.name} federated catalog",
        items,
        endpoints,
    )
    headers = None
    if len(items) == limit:
        headers = {
            "Link": f'<{base}/catalog/request?offset={offset + limit}&limit={limit}>; rel="next"'
        }
    return web.json_response(doc, headers=headers)


def _page(request: web.Request) -> tuple[int, int]:
    values = []
    for name, default, high in (("offset", 0, MAX_OFFSET), ("limit", MAX_LIMIT, MAX_LIMIT)):
        raw = request.query.get(name, str(default))
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) > high:
            raise DspError(Area.CATALOG, 400, Code.MALFORMED, f"{name} must be 0..{high}")
        values.append(int(raw))
    return values[0], values[1] or MAX_LIMIT


async def export(request: web.Request) -> web.Response:
    """GET /api/v1/catalog/export?format=turtle|json-ld: DCAT-AP 3 of the aggregated catalog."""
    catalog = _catalog(request)
    fmt = request.query.get("format", "turtle")
    if fmt not in FORMATS:
        raise Problem(
            400, "Bad Request", detail="format must be turtle or json-ld", parameter="format"
        )
    return await _dcat_ap(catalog, Query(sort="title", limit=EXPORT_LIMIT), fmt)


def _accepted(accept: str) -> str | None:
    """The DCAT-AP serialisation an Accept header asks for (Turtle unless JSON-LD is
    preferred), or None when it accepts neither."""
    best: tuple[float, str] | None = None
    for part in accept.split(",")[:32] if accept.strip() else ["*/*"]:
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.startswith("q="):
                try:
                    q = float(param[2:])
                except ValueError:
                    q = 0.0
        fmt = {
            "text/turtle": "turtle",
            "application/ld+json": "json-ld",
            "application/json": "json-ld",
            "text/*": "turtle",
            "*/*": "turtle",
        }.get(media.lower())
        if fmt is not None and q > 0 and (best is None or q > best[0]):
            best = (q, fmt)
    return None if best is None else best[1]


async def harvest(request: web.Request) -> web.Response:
    """GET /federated/dcat-ap: what a national portal harvests, without a key: the open
    datasets (free and licensed) of the aggregated catalog, as DCAT-AP 3 in Turtle or JSON-LD
    by Accept. What members offer under conditions stays for members to find."""
    catalog = _catalog(request)
    fmt = _accepted(request.headers.get("Accept", ""))
    if fmt is None:
        raise Problem(
            406,
            "Not Acceptable",
            detail="this document is text/turtle or application/ld+json",
        )
    response = await _dcat_ap(catalog, Query(open=True, sort="title", limit=EXPORT_LIMIT), fmt)
    response.headers["Vary"] = "Accept"
    return response


async def _dcat_ap(catalog: FederatedCatalog, query: Query, fmt: str) -> web.Response:
    assert catalog.ctx is not None
    items, endpoints = await _export_items(catalog, query)
    settings = catalog.ctx.settings
    graph = dcat_ap_graph(
        f"{settings.public_url}{FEDERATED_PATH}#catalog",
        f"{settings.participant.name} federated catalog",
        items,
        endpoints,
    )
    text = await asyncio.to_thread(serialise, graph, fmt)
    return web.Response(text=text, content_type=FORMATS[fmt])


async def product_offerings(request: web.Request) -> web.Response:
    """GET /api/v1/catalog/productOffering?…: the search's hits in the TMF620 shape."""
    catalog = _catalog(request)
    try:
        query = parse_query(request.query)
    except CatalogError as exc:
        raise Problem(400, "Bad Request", detail=str(exc), parameter=exc.field) from None
    assert catalog.index is not None and catalog.ctx is not None
    found = await catalog.index.search(query)
    base = catalog.ctx.settings.public_url + "/api/v1"
    body = [product_offering(i, base) for i in found.items]
    return web.json_response(
        body, headers={"X-Total-Count": str(found.total), "X-Result-Count": str(len(body))}
    )


async def list_nodes(request: web.Request) -> web.Response:
    catalog = _catalog(request)
    assert catalog.index is not None
    nodes = await catalog.index.load_nodes()
    return web.json_response(
        {
            "registryError": catalog.registry_problem,
            "nodes": [node_view(n) for n in nodes.values()],
        }
    )


async def crawl(request: web.Request) -> web.Response:
    catalog = _catalog(request)
    done = await catalog.crawl_now(force=True)
    return web.json_response({"nodes": [node_view(n) for n in done]})


class SearchQuery(BaseModel):
    """The search's query parameters (checked by :func:`marketplace.catalog.query.parse_query`)."""

    q: str | None = Field(
        default=None, description="words of the title, keywords or description (last: a prefix)"
    )
    type: str | None = Field(default=None, description="NGSI-LD entity type")
    keyword: str | None = Field(default=None, description="dcat:keyword")
    theme: str | None = Field(default=None, description="dcat:theme")
    publisher: str | None = Field(default=None, description="the publisher's DID")
    bbox: str | None = Field(
        default=None, description="west,south,east,north: datasets whose area intersects it"
    )
    price_model: str | None = Field(
        default=None, description="free | one_off | recurring | metered | tiered | freemium"
    )
    price_min: str | None = Field(default=None, description="lowest price (decimal)")
    price_max: str | None = Field(
        default=None, description="highest price (decimal; free datasets included)"
    )
    free: bool | None = Field(default=None, description="true: only free; false: only priced")
    open: bool | None = Field(default=None, description="true: only open data (free, licensed)")
    license: str | None = Field(default=None, description="dct:license")
    frequency: str | None = Field(default=None, description="dct:accrualPeriodicity")
    hvd_category: str | None = Field(default=None, description="High-Value Dataset category")
    sort: str | None = Field(default=None, description="relevance | title | price | modified")
    limit: int | None = Field(default=None, description="page size, 1..100 (20)")
    offset: int | None = Field(default=None, description="0..10000")
    facets: bool | None = Field(
        default=None, description="true: counts per publisher, price model, licence, HVD category"
    )


class ExportQuery(BaseModel):
    format: Literal["turtle", "json-ld"] = "turtle"


class SearchView(View):
    total: int
    totalExact: bool = Field(description="false: 'total' is a lower bound")
    offset: int
    limit: int
    items: list[dict[str, Any]] = Field(description="datasets of the members' catalogs")
    facets: dict[str, Any] | None = None


class NodeView(View):
    did: str
    url: str
    state: str
    datasets: int
    refused: int
    failures: int
    lastSuccess: str | None
    lastError: str | None
    lastErrorAt: str | None
    nextAttempt: str | None


class NodesView(View):
    registryError: str | None = Field(
        default=None, description="why the participant registry could not be read"
    )
    nodes: list[NodeView]


_OFF = (404,)  # the federated catalog is off here ([catalog] enabled)
ROUTES = [
    Route(
        "GET",
        "/catalog/search",
        search,
        "Search the federated catalog (datasets of every member)",
        query=SearchQuery,
        response=SearchView,
        errors=_OFF,
    ),
    Route(
        "GET",
        "/catalog/productOffering",
        product_offerings,
        "The aggregated offerings as TMF620 productOffering (the search's parameters)",
        query=SearchQuery,
        response=TypeAdapter(list[dict[str, Any]]),
        errors=_OFF,
        description="Headers X-Total-Count and X-Result-Count give the number of hits.",
    ),
    Route(
        "GET",
        "/catalog/nodes",
        list_nodes,
        "The crawled nodes: state, last success, last error",
        response=NodesView,
        errors=_OFF,
    ),
    Route(
        "POST",
        "/catalog/crawl",
        crawl,
        "Crawl every node now",
        response=NodesView,
        errors=_OFF,
    ),
    Route(
        "GET",
        "/catalog/export",
        export,
        "The aggregated catalog as DCAT-AP 3",
        query=ExportQuery,
        media_type="text/turtle",
        errors=_OFF,
        description="Turtle by default; format=json-ld answers application/ld+json.",
    ),
]
