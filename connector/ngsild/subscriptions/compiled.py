"""A stored subscription bound to IRIs: decides whether a change concerns it and renders the
entities a notification carries.

The creator's access restriction is applied here, at notification time, exactly as the query
path applies it: hidden entity types never match, hidden attributes are neither shown, nor
watched, nor usable in ``q``/``geoQ``, and entities outside the permitted area never match. A
consumer can therefore learn through a subscription nothing it could not query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shapely.geometry.base import BaseGeometry

from connector.ngsild.context import CORE_URL, TermMap, term_map
from connector.ngsild.events import ChangeEvent
from connector.ngsild.model import CONTENT_KEY
from connector.ngsild.query.geo import GeoQuery, parse_geoquery, shape_of
from connector.ngsild.query.patterns import Pattern, compile_pattern
from connector.ngsild.query.q import compile_q, parse_q
from connector.ngsild.query.selectors import (
    Expr,
    expand_expr,
    matches_scope,
    matches_types,
    parse_scope_q,
    parse_types,
)
from connector.ngsild.render import LOCATION, View, render_entity, to_feature
from connector.ngsild.service import visible
from connector.ngsild.subscriptions.model import DEFAULT_TRIGGERS, status_of
from connector.ngsild.subscriptions.store import StoredSubscription
from connector.ngsild.temporal.times import parse_time

Doc = dict[str, Any]


@dataclass(frozen=True)
class Selector:
    types: Expr
    entity_id: str | None
    pattern: Pattern | None

    def matches(self, doc: Doc) -> bool:
        if not matches_types(self.types, set(doc.get("type", []))):
            return False
        if self.entity_id is not None and doc["id"] != self.entity_id:
            return False
        # searched, as a query's idPattern is (a periodic subscription queries with it)
        return self.pattern is None or self.pattern.search(doc["id"])


class Compiled:
    """One subscription ready for matching; rebuilt whenever the stored document changes."""

    def __init__(self, stored: StoredSubscription) -> None:
        self.stored = stored
        doc = stored.doc
        self.id: str = doc["id"]
        self.context: Any = doc.get("@context")
        self.tm: TermMap = term_map(self.context)
        scope = stored.restriction
        self.scope = scope
        expand = self.tm.expand
        self.selectors = [
            Selector(
                expand_expr(parse_types(s["type"]), expand),
                s.get("id"),
                compile_pattern(s["idPattern"]) if "idPattern" in s else None,
            )
            for s in doc.get("entities", [])
        ]
        watched = doc.get("watchedAttributes")
        self.watched = frozenset(expand(a) for a in watched) if watched else None
        self.q: Callable[[Doc], bool] | None = (
            compile_q(parse_q(doc["q"]), expand, scope.attributes) if "q" in doc else None
        )
        self.geo: GeoQuery | None = None
        if "geoQ" in doc:
            g = doc["geoQ"]
            prop = expand(g["geoproperty"]) if g.get("geoproperty") else LOCATION
            self.geo = parse_geoquery(
                g.get("georel"), g.get("geometry"), g.get("coordinates"), prop
            )
        self.scope_q = parse_scope_q(doc["scopeQ"]) if "scopeQ" in doc else None
        self.area: BaseGeometry | None = shape_of(scope.area) if scope.area else None
        self.triggers = frozenset(doc.get("notificationTrigger", DEFAULT_TRIGGERS))
        self.interval: float | None = doc.get("timeInterval")
        self.throttling: float = float(doc.get("throttling", 0) or 0)
        self.expires: datetime | None = (
            parse_time(doc["expiresAt"], "expiresAt") if "expiresAt" in doc else None
        )
        note = doc["notification"]
        endpoint = note["endpoint"]
        self.endpoint_uri: str = endpoint["uri"]
        self.accept: str = endpoint.get("accept", "application/json")
        self.receiver_info: list[Doc] = endpoint.get("receiverInfo", [])
        self.notifier_info: dict[str, str] = {
            i["key"]: i["value"] for i in endpoint.get("notifierInfo", [])
        }
        self.timeout: float | None = endpoint.get("timeout")
        self.show_changes = bool(note.get("showChanges", doc.get("showChanges", False)))
        wanted = note.get("attributes")
        attrs = frozenset(expand(a) for a in wanted) if wanted else None
        if scope.attributes is not None:
            attrs = scope.attributes if attrs is None else attrs & scope.attributes
        self.view = View(
            fmt=note.get("format", "normalized"),
            sys_attrs=bool(note.get("sysAttrs", doc.get("sysAttrs", False))),
            lang=doc.get("lang"),
            attrs=attrs,
        )

    def status(self, now: datetime) -> str:
        return status_of(self.stored.doc, now)

    # -- matching ------------------------------------------------------------------------

    def allows(self, doc: Doc) -> bool:
        """The creator's restriction: type and area (attributes are filtered on render)."""
        if visible(doc, self.scope) is None:
            return False
        if self.area is None:
            return True
        for inst in doc.get(LOCATION) or []:
            value = inst.get("value")
            if isinstance(value, dict):
                try:
                    if shape_of(value).intersects(self.area):
                        return True
                except (ValueError, TypeError, KeyError):
                    continue
        return False

    def matches_entity(self, doc: Doc) -> bool:
        if self.selectors and not any(s.matches(doc) for s in self.selectors):
            return False
        if not self.allows(doc):
            return False
        if self.q is not None and not self.q(doc):
            return False
        if self.scope_q is not None and not matches_scope(self.scope_q, doc.get("scope") or []):
            return False
        if self.geo is not None:
            if (
                self.scope.attributes is not None
                and self.geo.geoproperty not in self.scope.attributes
            ):
                return False
            if not any(
                isinstance(i.get("value"), dict) and self.geo.matches(i["value"])
                for i in doc.get(self.geo.geoproperty) or []
            ):
                return False
        return True

    def _visible_changes(self, event: ChangeEvent) -> frozenset[str]:
        changed = event.changed_attributes
        if self.scope.attributes is not None:
            changed = changed & self.scope.attributes
        return changed

    def triggered_by(self, event: ChangeEvent) -> bool:
        """Whether this change is of a kind the subscription watches (before entity matching)."""
        if self.interval is not None:
            return False
        changed = self._visible_changes(event)
        if event.kind == "delete":
            return "entityDeleted" in self.triggers
        if self.watched is not None and not (changed & self.watched):
            return False
        if event.kind == "create":
            return bool({"entityCreated", "attributeCreated"} & self.triggers)
        if not changed:
            return False
        before = event.before or {}
        after = event.after or {}
        added = {n for n in changed if n not in before}
        removed = {n for n in changed if n not in after}
        updated = changed - added - removed
        return (
            "entityUpdated" in self.triggers
            or bool(added and "attributeCreated" in self.triggers)
            or bool(updated and "attributeUpdated" in self.triggers)
            or bool(removed and "attributeDeleted" in self.triggers)
        )

    def matches_event(self, event: ChangeEvent) -> bool:
        if not self.triggered_by(event):
            return False
        doc = event.after if event.after is not None else event.before
        assert doc is not None
        return self.matches_entity(doc)

    # -- rendering -----------------------------------------------------------------------

    def render(self, doc: Doc, before: Doc | None = None) -> dict[str, Any]:
        shown = visible(doc, self.scope) or {"id": doc["id"], "type": doc.get("type", [])}
        rendered = render_entity(shown, self.tm, self.view)
        if self.show_changes and before is not None and self.view.fmt == "normalized":
            self._previous_values(shown, before, rendered)
        if self.accept == "application/geo+json":
            return to_feature(shown, rendered, LOCATION, None)
        return rendered

    def _previous_values(self, doc: Doc, before: Doc, rendered: dict[str, Any]) -> None:
        """showChanges: each changed instance carries its former content as previousValue
        (previousObject, previousLanguageMap, ... by attribute type)."""
        for name, instances in doc.items():
            if ":" not in name or name not in before:
                continue
            out = rendered.get(self.tm.compact(name))
            items = out if isinstance(out, list) else [out]
            old = {i.get("datasetId"): i for i in before[name]}
            for inst, item in zip(instances, items, strict=False):
                prev = old.get(inst.get("datasetId"))
                if not isinstance(item, dict) or prev is None or prev == inst:
                    continue
                key = CONTENT_KEY.get(prev.get("type", "Property"), "value")
                if key in prev:
                    item["previous" + key[0].upper() + key[1:]] = prev[key]

    def render_deleted(self, doc: Doc, at: str) -> dict[str, Any]:
        types = [self.tm.compact(t) for t in doc.get("type", [])]
        out = {"id": doc["id"], "type": types[0] if len(types) == 1 else types, "deletedAt": at}
        if self.accept == "application/geo+json":
            props = {k: v for k, v in out.items() if k != "id"}
            return {"id": doc["id"], "type": "Feature", "geometry": None, "properties": props}
        return out

    @property
    def link_url(self) -> str:
        return self.context if isinstance(self.context, str) else CORE_URL
