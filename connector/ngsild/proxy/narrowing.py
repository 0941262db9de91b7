"""The access scope applied to an upstream broker's answers, which this connector did not
compute itself: entities of hidden types are dropped, hidden attributes removed, entities
outside the permitted area left out. Names in the answer are short names under the answer's
@context, so they are expanded with the same bundled, offline context machinery before they
are compared with the scope's IRIs. An answer whose context cannot be interpreted is refused
rather than passed on unfiltered.
"""

from __future__ import annotations

from typing import Any

from shapely.geometry import shape

from connector.ngsild.context import TermMap
from connector.ngsild.model import ENTITY_KEYS, looks_like_geometry
from connector.ngsild.pep import AccessScope
from connector.ngsild.query.geo import shape_of

LOCATION_TERM = "location"
KEEP = ENTITY_KEYS | {"@context", "deletedAt"}


def _geometries(value: Any) -> list[dict[str, Any]]:
    """GeoJSON geometries in an attribute as rendered: normalized, concise, keyValues or
    temporal (a list of instances)."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if looks_like_geometry(item):
            out.append(item)
        elif isinstance(item, dict) and looks_like_geometry(item.get("value")):
            out.append(item["value"])
    return out


class Narrower:
    def __init__(self, scope: AccessScope, tm: TermMap) -> None:
        self.scope = scope
        self.tm = tm
        self.area = shape(scope.area) if scope.area is not None else None

    def entity(self, entity: Any) -> dict[str, Any] | None:
        """The visible part of one rendered entity, or None when it must be hidden."""
        if not isinstance(entity, dict):
            return None
        if self.scope.entity_types is not None:
            raw = entity.get("type")
            types = raw if isinstance(raw, list) else [raw]
            expanded = {self.tm.expand(t) for t in types if isinstance(t, str)}
            if not expanded & self.scope.entity_types:
                return None
        if self.area is not None and not self._in_area(entity):
            return None
        if self.scope.attributes is None:
            return entity
        return {
            k: v
            for k, v in entity.items()
            if k in KEEP or self.tm.expand(k) in self.scope.attributes
        }

    def _in_area(self, entity: dict[str, Any]) -> bool:
        for key, value in entity.items():
            if key in KEEP or self.tm.expand(key) != self.tm.expand(LOCATION_TERM):
                continue
            for geometry in _geometries(value):
                try:
                    if shape_of(geometry).intersects(self.area):
                        return True
                except (ValueError, TypeError, KeyError):
                    continue
        return False

    def entities(self, items: list[Any]) -> list[dict[str, Any]]:
        return [e for e in (self.entity(i) for i in items) if e is not None]
