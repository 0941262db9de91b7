"""A DSP catalog (DCAT) read into index entries, one per dataset, with guards.

A member's catalog is outside input: every field is bounded, nested catalogs are walked
iteratively with a depth bound and a cycle check (a nested catalog whose ``@id`` was already
seen), and a dataset is kept only if its publisher is the node that served it — a node cannot
list another member's datasets under its own name. Refusals are collected, not raised, so one
bad dataset does not hide the good ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from marketplace.catalog.errors import CatalogError, Why
from marketplace.catalog.open_data import lint_entry
from marketplace.errors import MarketplaceError
from marketplace.views.dsp import plan_from_offer, price_terms

DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
AGORA_NGSILD = "https://w3id.org/agora/ngsi-ld#"
HVD = "http://data.europa.eu/r5r/"
MAX_TEXT = 500
MAX_DESCRIPTION = 5000
MAX_LIST = 50
MAX_OFFERS = 20
MAX_COORDINATES = 10_000


@dataclass(frozen=True)
class Limits:
    """Bounds on one node's catalog (all pages together)."""

    max_depth: int = 4
    max_datasets: int = 10_000
    max_pages: int = 200


@dataclass(frozen=True)
class Entry:
    """One dataset as indexed: what search filters and ranks on, plus the dataset document."""

    node: str
    dataset_id: str
    title: str
    description: str = ""
    publisher: str = ""
    keywords: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    entity_types: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    price_model: str = "free"  # free | one_off | recurring | metered | tiered | freemium
    price: Decimal | None = None  # lowest price (or rate) among the offers, None if free
    currency: str | None = None
    license: str = ""
    frequency: str = ""
    hvd_category: str = ""
    modified: str = ""
    catalog: str = ""  # @id of the (nested) catalog it came from
    document: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def free(self) -> bool:
        return self.price_model == "free"


@dataclass
class Parsed:
    """What one catalog document yielded: entries, refusals (dataset id or path, reason)."""

    entries: list[Entry] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    modified: str = ""


def _get(doc: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in doc:
            return doc[name]
    return None


def _term(doc: dict[str, Any], ns: str, local: str, prefix: str) -> Any:
    return _get(doc, f"{prefix}:{local}", ns + local, local)


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    if isinstance(value, dict):
        value = _get(value, "@value", "@id")
    if isinstance(value, list) and value:
        value = value[0]
        if isinstance(value, dict):
            value = _get(value, "@value", "@id")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CatalogError(Why.INVALID, expected="a string", found=type(value).__name__)
    if len(value) > limit:
        raise CatalogError(Why.INVALID, expected=f"at most {limit} characters", found=len(value))
    return value


def _texts(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_LIST:
        raise CatalogError(Why.INVALID, expected=f"at most {MAX_LIST} values", found=len(items))
    return tuple(t for t in (_text(v) for v in items) if t)


def bbox_of(geometry: Any) -> tuple[float, float, float, float] | None:
    """The bounding box of a GeoJSON geometry (iterative, bounded number of positions)."""
    if not isinstance(geometry, dict):
        raise CatalogError(Why.INVALID, field="area", expected="a GeoJSON geometry", found=None)
    stack = [geometry.get("coordinates")]
    xs: list[float] = []
    ys: list[float] = []
    while stack:
        node = stack.pop()
        if not isinstance(node, list) or not node:
            raise CatalogError(Why.INVALID, field="area", expected="coordinates", found=node)
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in node):
            if len(node) < 2 or not (-180 <= node[0] <= 180 and -90 <= node[1] <= 90):
                raise CatalogError(Why.INVALID, field="area", expected="lon, lat", found=node)
            xs.append(float(node[0]))
            ys.append(float(node[1]))
            if len(xs) > MAX_COORDINATES:
                raise CatalogError(Why.TOO_LARGE, field="area", expected="fewer positions")
        else:
            stack.extend(node)
    return (min(xs), min(ys), max(xs), max(ys))


def _prices(offers: Any) -> tuple[str, Decimal | None, str | None]:
    """(model, lowest price, currency) over the offers; a free offer makes the dataset free."""
    items = offers if isinstance(offers, list) else [offers]
    if not items or len(items) > MAX_OFFERS:
        raise CatalogError(Why.INVALID, field="hasPolicy", expected=f"1..{MAX_OFFERS} offers")
    best: tuple[str, Decimal | None, str | None] | None = None
    for i, offer in enumerate(items):
        if not isinstance(offer, dict):
            raise CatalogError(Why.INVALID, field=f"hasPolicy.{i}", expected="an offer object")
        try:
            terms = price_terms(offer)
            if terms is None:
                return "free", None, None
            try:
                plan = plan_from_offer(offer, plan_id=f"o{i}")
            except MarketplaceError:
                model = _model_only(terms)
                if model is None:
                    raise
                candidate: tuple[str, Decimal | None, str | None] = (model, None, None)
            else:
                if plan.kind == "free":
                    return "free", None, None
                amount = getattr(plan, "price", None) or getattr(plan, "rate", None)
                candidate = (plan.kind, amount, plan.currency)
        except MarketplaceError as exc:
            raise CatalogError(Why.INVALID, field=f"hasPolicy.{i}.{exc.field}") from None
        if best is None or (
            candidate[1] is not None and (best[1] is None or candidate[1] < best[1])
        ):
            best = candidate
    assert best is not None
    return best


def _model_only(terms: dict[str, Any]) -> str | None:
    """A tiered plan's table lives behind ``priceSchedule``: index its model without a price."""
    right = terms.get("priceModel", {}).get("rightOperand")
    iri = right.get("@id") if isinstance(right, dict) else right
    if isinstance(iri, str) and iri.endswith("tiered"):
        return "tiered"
    return None


def parse_dataset(doc: Any, node: str, catalog_publisher: str, catalog_id: str) -> Entry:
    """One dataset document as an entry; a :class:`CatalogError` if it is malformed or is
    published by someone other than ``node``."""
    if not isinstance(doc, dict):
        raise CatalogError(Why.INVALID, expected="a Dataset object", found=type(doc).__name__)
    dataset_id = _text(doc.get("@id"))
    if not dataset_id:
        raise CatalogError(Why.INVALID, field="@id", expected="a dataset id", found=None)
    publisher = _text(_term(doc, DCT, "publisher", "dct")) or catalog_publisher or node
    if publisher != node:
        raise CatalogError(Why.FOREIGN_PUBLISHER, expected=node, found=publisher)
    area = _get(doc, AGORA_NGSILD + "area", "agora:area")
    model, price, cur = _prices(doc.get("hasPolicy", doc.get("odrl:hasPolicy")))
    return Entry(
        node=node,
        dataset_id=dataset_id,
        title=_text(_term(doc, DCT, "title", "dct")) or dataset_id,
        description=_text(_term(doc, DCT, "description", "dct"), MAX_DESCRIPTION),
        publisher=publisher,
        keywords=_texts(_term(doc, DCAT, "keyword", "dcat")),
        themes=_texts(_term(doc, DCAT, "theme", "dcat")),
        entity_types=_texts(_get(doc, AGORA_NGSILD + "entityType", "agora:entityType")),
        bbox=None if area is None else bbox_of(area),
        price_model=model,
        price=price,
        currency=cur,
        license=_text(_term(doc, DCT, "license", "dct")),
        frequency=_text(_term(doc, DCT, "accrualPeriodicity", "dct")),
        hvd_category=_text(_get(doc, HVD + "hvdCategory", "dcatap:hvdCategory", "hvdCategory")),
        modified=_text(_term(doc, DCT, "modified", "dct"), 64),
        catalog=catalog_id,
        document=doc,
    )


def parse_catalog(
    doc: Any,
    node: str,
    limits: Limits = Limits(),
    *,
    seen: set[str] | None = None,
    budget: int | None = None,
) -> Parsed:
    """Every dataset of a catalog page and of its nested catalogs (``catalog``), walked
    breadth-first; nested deeper than ``limits.max_depth`` or seen before is refused."""
    out = Parsed()
    if not isinstance(doc, dict) or _get(doc, "@type") not in ("Catalog", "dcat:Catalog"):
        raise CatalogError(Why.INVALID, expected="a dcat:Catalog object", found=type(doc).__name__)
    participant = _text(_get(doc, "participantId", "dspace:participantId"))
    if participant and participant != node:
        raise CatalogError(
            Why.FOREIGN_PUBLISHER, field="participantId", expected=node, found=participant
        )
    out.modified = _text(_term(doc, DCT, "modified", "dct"), 64)
    seen = set() if seen is None else seen
    left = limits.max_datasets if budget is None else budget
    queue: list[tuple[dict[str, Any], int, str]] = [(doc, 0, participant)]
    while queue:
        catalog, depth, publisher = queue.pop(0)
        catalog_id = _text(catalog.get("@id")) if isinstance(catalog.get("@id"), str) else ""
        if catalog_id:
            # the root is exempt: every page of a paged catalog carries the same @id
            if depth > 0 and catalog_id in seen:
                out.refused.append((catalog_id, Why.CYCLE))
                continue
            seen.add(catalog_id)
        datasets = _get(catalog, "dataset", "dcat:dataset") or []
        for i, item in enumerate(datasets if isinstance(datasets, list) else [datasets]):
            ident = item.get("@id") if isinstance(item, dict) else None
            label = ident if isinstance(ident, str) else f"{catalog_id}#dataset/{i}"
            if left <= 0:
                out.refused.append((label[:MAX_TEXT], Why.TOO_MANY))
                continue
            try:
                parsed = parse_dataset(item, node, publisher, catalog_id)
                lint_entry(parsed)
                out.entries.append(parsed)
                left -= 1
            except CatalogError as exc:
                out.refused.append((label[:MAX_TEXT], exc.reason))
        nested = _get(catalog, "catalog", "dcat:catalog") or []
        for child in nested if isinstance(nested, list) else [nested]:
            if not isinstance(child, dict):
                out.refused.append((catalog_id, Why.INVALID))
            elif depth + 1 > limits.max_depth:
                out.refused.append((str(child.get("@id", ""))[:MAX_TEXT], Why.TOO_DEEP))
            else:
                try:
                    owner = _text(_get(child, "participantId", "dspace:participantId"))
                except CatalogError:
                    out.refused.append((catalog_id, Why.INVALID))
                    continue
                queue.append((child, depth + 1, owner or publisher))
    return out
