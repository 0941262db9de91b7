"""Geo-queries (§4.10): georel near/within/contains/intersects/disjoint/overlaps/equals.

The store narrows candidates with a bounding box on indexed columns; the exact predicate is
computed here with shapely. Distances are metres on the WGS 84 sphere (haversine between
points; otherwise an equirectangular projection around the reference geometry, accurate to
well under 1 % at city scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from connector.http import safe_json
from connector.ngsild.errors import bad_data
from connector.ngsild.model import GEOMETRY_TYPES, check_geometry

EARTH_RADIUS_M = 6_371_008.8
M_PER_DEG = math.pi * EARTH_RADIUS_M / 180
GEORELS = ("near", "within", "contains", "intersects", "disjoint", "overlaps", "equals")
BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class GeoQuery:
    georel: str
    geometry: dict[str, Any]
    shape: BaseGeometry
    geoproperty: str  # expanded
    max_distance: float | None = None
    min_distance: float | None = None

    def prefilter_bbox(self) -> BBox | None:
        """A box every matching entity geometry must intersect (None: no box narrows)."""
        if self.georel == "disjoint" or (self.georel == "near" and self.max_distance is None):
            return None
        minx, miny, maxx, maxy = self.shape.bounds
        if self.georel == "near" and self.max_distance is not None:
            dlat = self.max_distance / M_PER_DEG
            mid = math.radians((miny + maxy) / 2)
            dlon = self.max_distance / (M_PER_DEG * max(math.cos(mid), 0.01))
            return (minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)
        return (minx, miny, maxx, maxy)

    def matches(self, geometry: dict[str, Any]) -> bool:
        if self.georel == "near" and geometry.get("type") == "Point":
            # the common case without building shapely objects
            x, y = geometry["coordinates"][:2]
            d = _haversine(self.shape.x, self.shape.y, x, y)
            if self.max_distance is not None and d > self.max_distance:
                return False
            return not (self.min_distance is not None and d < self.min_distance)
        try:
            other = shape_of(geometry)
        except (ValueError, TypeError, KeyError):
            return False
        rel = self.georel
        if rel == "near":
            d = distance_m(self.shape, other)
            if self.max_distance is not None and d > self.max_distance:
                return False
            return not (self.min_distance is not None and d < self.min_distance)
        if rel == "within":
            return bool(other.within(self.shape))
        if rel == "contains":
            return bool(other.contains(self.shape))
        if rel == "intersects":
            return bool(other.intersects(self.shape))
        if rel == "disjoint":
            return bool(other.disjoint(self.shape))
        if rel == "overlaps":
            return bool(other.overlaps(self.shape))
        return bool(other.equals(self.shape))


_SHAPES: dict[str, BaseGeometry] = {}


def shape_of(geometry: dict[str, Any]) -> BaseGeometry:
    if geometry.get("type") == "Point":
        from shapely.geometry import Point

        c = geometry["coordinates"]
        return Point(c[0], c[1])
    return shape(geometry)


def bbox_of(geometry: dict[str, Any]) -> BBox:
    """Bounding box without building a shapely object (cheap on every write)."""
    coords = geometry["coordinates"]
    if geometry.get("type") == "Point":  # most locations: no walk
        x, y = float(coords[0]), float(coords[1])
        return (x, y, x, y)
    xs: list[float] = []
    ys: list[float] = []

    def walk(c: Any) -> None:
        if c and isinstance(c[0], int | float):
            xs.append(float(c[0]))
            ys.append(float(c[1]))
        else:
            for item in c:
                walk(item)

    walk(coords)
    return (min(xs), min(ys), max(xs), max(ys))


def _haversine(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def distance_m(ref: BaseGeometry, other: BaseGeometry) -> float:
    if ref.geom_type == "Point" and other.geom_type == "Point":
        return _haversine(ref.x, ref.y, other.x, other.y)
    from shapely.ops import transform

    lat0 = math.radians(ref.centroid.y)
    kx = M_PER_DEG * math.cos(lat0)

    def project(x: Any, y: Any, z: Any = None) -> tuple[Any, Any]:
        return (x * kx, y * M_PER_DEG)

    return float(transform(project, ref).distance(transform(project, other)))


def _parse_georel(text: str) -> tuple[str, float | None, float | None]:
    name, *mods = text.split(";")
    if name not in GEORELS:
        raise bad_data(f"georel {name!r} is not one of {', '.join(GEORELS)}")
    max_d = min_d = None
    for mod in mods:
        key, sep, raw = mod.partition("==")
        if name != "near" or not sep or key not in ("maxDistance", "minDistance"):
            raise bad_data(f"georel modifier {mod!r}: only near;maxDistance==m or minDistance==m")
        try:
            value = float(raw)
        except ValueError:
            raise bad_data(f"georel {key} must be a number of metres, got {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise bad_data(f"georel {key} must be a non-negative number of metres")
        if key == "maxDistance":
            max_d = value
        else:
            min_d = value
    if name == "near" and max_d is None and min_d is None:
        raise bad_data("georel near needs maxDistance==m or minDistance==m")
    return name, max_d, min_d


def parse_geoquery(
    georel: str | None, geometry: str | None, coordinates: Any, geoproperty: str
) -> GeoQuery:
    """Build a geo-query from its parameters; coordinates may be JSON text or a parsed list."""
    if not georel or not geometry or coordinates in (None, ""):
        raise bad_data("a geo-query needs georel, geometry and coordinates together")
    if geometry not in GEOMETRY_TYPES:
        raise bad_data(f"geometry {geometry!r} is not one of {', '.join(sorted(GEOMETRY_TYPES))}")
    if isinstance(coordinates, str):
        try:
            coordinates = safe_json.loads(coordinates)
        except safe_json.UnsafeJson as exc:
            raise bad_data(
                f"coordinates {coordinates[:80]!r} are not a JSON array: {exc.reason}"
            ) from None
    geo = check_geometry({"type": geometry, "coordinates": coordinates}, "coordinates")
    name, max_d, min_d = _parse_georel(georel)
    try:
        geom_shape = shape_of(geo)
    except (ValueError, TypeError) as exc:
        raise bad_data(f"the geometry is not valid: {exc}") from None
    if name == "near" and geometry != "Point":
        raise bad_data("georel near needs a Point geometry")
    return GeoQuery(name, geo, geom_shape, geoproperty, max_d, min_d)
