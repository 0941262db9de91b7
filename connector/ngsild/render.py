"""Output: a stored entity rendered in one of the NGSI-LD representations (§4.5).

``normalized`` (every attribute with its type), ``concise`` (types left out where they can be
inferred, bare values where there is nothing else) and ``keyValues`` (simplified: name → value),
optionally with system attributes, a language choice for LanguageProperties and a projection.
Names are compacted with the request's term map.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from connector.ngsild.context import NGSI_LD, TermMap
from connector.ngsild.model import CONTENT_KEY, Doc, Instance

LOCATION = NGSI_LD + "location"


@dataclass(frozen=True)
class View:
    """How to render: representation, system attributes, language, projection."""

    fmt: str = "normalized"  # normalized | concise | keyValues
    sys_attrs: bool = False
    lang: str | None = None
    attrs: frozenset[str] | None = None  # expanded names to keep (None: all)
    pick: frozenset[str] | None = None  # short names (incl. id/type) to keep
    omit: frozenset[str] = frozenset()
    #: datasetId filter (§4.5.5): the instances shown, None standing for the default instance
    datasets: frozenset[str | None] | None = None


def _pick_language(lmap: dict[str, Any], lang: str) -> tuple[str | None, Any]:
    for wanted in [p.split(";")[0].strip() for p in lang.split(",")]:
        if wanted in lmap:
            return wanted, lmap[wanted]
        if wanted == "*" and lmap:
            first = next(iter(lmap))
            return first, lmap[first]
    if "@none" in lmap:
        return "@none", lmap["@none"]
    if lmap:
        first = next(iter(lmap))
        return first, lmap[first]
    return None, None


def _simple_value(inst: Instance, tm: TermMap, view: View) -> Any:
    atype = inst["type"]
    content = inst[CONTENT_KEY[atype]]
    if atype == "VocabProperty":
        return (
            [tm.compact(v) for v in content] if isinstance(content, list) else tm.compact(content)
        )
    if atype == "LanguageProperty":
        if view.lang is not None:
            return _pick_language(content, view.lang)[1]
        return {"languageMap": content}
    if atype == "ListRelationship":
        return content
    return content


def render_instance(inst: Instance, tm: TermMap, view: View, *, concise: bool) -> Any:
    atype = inst["type"]
    out: dict[str, Any] = {}
    if not concise:
        out["type"] = atype
    key = CONTENT_KEY[atype]
    content = inst[key]
    if atype == "VocabProperty":
        content = _simple_value(inst, tm, view)
    elif atype == "LanguageProperty" and view.lang is not None:
        chosen, text = _pick_language(content, view.lang)
        out.pop("type", None)
        if not concise:
            out["type"] = "Property"
        out["value"] = text
        if chosen is not None:
            out["lang"] = chosen
        key = ""
    elif atype == "ListRelationship" and not concise:
        content = [{"object": o} for o in content]
    elif atype == "Relationship" and "objectType" in inst:
        out["objectType"] = [tm.compact(t) for t in inst["objectType"]]
    if key:
        out[key] = content
    extra = False
    for name, value in inst.items():
        if name in (
            "type",
            "value",
            "object",
            "objectType",
            "languageMap",
            "vocab",
            "json",
            "valueList",
            "objectList",
        ):
            continue
        if name in ("createdAt", "modifiedAt"):
            if view.sys_attrs:
                out[name] = value
                extra = True
            continue
        if ":" in name:
            out[tm.compact(name)] = render_instance(value, tm, view, concise=concise)
        else:
            out[name] = value
        extra = True
    if concise and not extra and atype in ("Property", "GeoProperty") and "lang" not in out:
        return content
    return out


def render_attribute(instances: list[Instance], tm: TermMap, view: View) -> Any:
    if view.fmt == "keyValues":
        values = [_simple_value(i, tm, view) for i in instances]
        return values[0] if len(values) == 1 else values
    rendered = [render_instance(i, tm, view, concise=view.fmt == "concise") for i in instances]
    return rendered[0] if len(rendered) == 1 else rendered


def render_entity(doc: Doc, tm: TermMap, view: View) -> dict[str, Any]:
    out: dict[str, Any] = {"id": doc["id"]}
    types = [tm.compact(t) for t in doc.get("type", [])]
    out["type"] = types[0] if len(types) == 1 else types
    if "scope" in doc:
        out["scope"] = doc["scope"] if len(doc["scope"]) != 1 else doc["scope"][0]
    if view.sys_attrs:
        out["createdAt"] = doc.get("createdAt")
        out["modifiedAt"] = doc.get("modifiedAt")
    for name, instances in doc.items():
        if ":" not in name:
            continue
        if view.attrs is not None and name not in view.attrs:
            continue
        if view.datasets is not None:
            instances = [i for i in instances if i.get("datasetId") in view.datasets]
            if not instances:
                continue
        out[tm.compact(name)] = render_attribute(instances, tm, view)
    return project(out, view.pick, view.omit)


def project(
    out: dict[str, Any], pick: Collection[str] | None, omit: Collection[str]
) -> dict[str, Any]:
    if pick is not None:
        out = {k: v for k, v in out.items() if k in pick}
    if omit:
        out = {k: v for k, v in out.items() if k not in omit}
    return out


def geometry_of(doc: Doc, geoproperty: str = LOCATION) -> Any:
    instances = doc.get(geoproperty)
    if not instances:
        return None
    inst = instances[0]
    return inst.get("value") if inst.get("type") == "GeoProperty" else None


def to_feature(
    doc: Doc, rendered: dict[str, Any], geoproperty: str, context: Any | None
) -> dict[str, Any]:
    """A GeoJSON Feature (§4.5.16): the chosen GeoProperty as geometry, the rest as properties."""
    props = {k: v for k, v in rendered.items() if k not in ("id", "@context")}
    feature: dict[str, Any] = {
        "id": doc["id"],
        "type": "Feature",
        "geometry": geometry_of(doc, geoproperty),
        "properties": props,
    }
    if context is not None:
        feature["@context"] = context
    return feature
