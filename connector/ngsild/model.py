"""Entities and attributes: input validation and the *stored form*.

The stored form is the normalized representation with every entity type and attribute name
expanded to its IRI, so it does not depend on any request's @context::

    {"id": "urn:…", "type": ["https://…/AirQualityObserved"], "scope": [...],
     "createdAt": "…Z", "modifiedAt": "…Z",
     "https://…/NO2": [{"type": "Property", "value": 45, "unitCode": "GQ",
                        "observedAt": "…Z", "createdAt": "…Z", "modifiedAt": "…Z",
                        "https://…/reliability": {"type": "Property", "value": 0.9}}]}

Attribute names are IRIs and therefore always contain ``:``; the member names without one are
the entity's own members. Top-level attributes are lists of instances (multi-attributes, told
apart by ``datasetId``); sub-attributes are single instances. Compound Property values are kept
as JSON (their member names are not expanded). This is the form change events carry.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from connector.ngsild.context import NGSI_LD, TermMap
from connector.ngsild.errors import bad_data
from ledger.records import utc_now

Doc = dict[str, Any]
Instance = dict[str, Any]

ATTR_TYPES = (
    "Property",
    "Relationship",
    "GeoProperty",
    "LanguageProperty",
    "VocabProperty",
    "JsonProperty",
    "ListProperty",
    "ListRelationship",
)
#: the member that carries each attribute type's content
CONTENT_KEY = {
    "Property": "value",
    "GeoProperty": "value",
    "Relationship": "object",
    "LanguageProperty": "languageMap",
    "VocabProperty": "vocab",
    "JsonProperty": "json",
    "ListProperty": "valueList",
    "ListRelationship": "objectList",
}
_INFER_ORDER = (
    ("value", "Property"),
    ("object", "Relationship"),
    ("languageMap", "LanguageProperty"),
    ("vocab", "VocabProperty"),
    ("json", "JsonProperty"),
    ("valueList", "ListProperty"),
    ("objectList", "ListRelationship"),
)
META_KEYS = frozenset(
    {
        "type",
        "value",
        "object",
        "objectType",
        "languageMap",
        "vocab",
        "json",
        "valueList",
        "objectList",
        "datasetId",
        "observedAt",
        "unitCode",
        "createdAt",
        "modifiedAt",
        "deletedAt",
        "instanceId",
        "lang",
    }
)
_CONTENT_KEYS = frozenset(CONTENT_KEY.values())
#: output-only members (§4.5.2.2 and its siblings): never accepted on input
_OUTPUT_ONLY = frozenset(
    {
        "previousValue",
        "previousObject",
        "previousLanguageMap",
        "previousVocab",
        "previousJson",
        "previousValueList",
        "previousObjectList",
    }
)
_SEALED = frozenset({"entityIdSealed", "entityTypeSealed"})
PROOF = "ngsildproof"
_NO_UNIT = frozenset({"Relationship", "JsonProperty"})
#: core terms that are members of attributes, never attribute names themselves (§4.5.1)
RESERVED_NAMES = META_KEYS - {"type", "createdAt", "modifiedAt", "deletedAt"} | _OUTPUT_ONLY
SYSTEM_KEYS = frozenset({"createdAt", "modifiedAt", "deletedAt", "instanceId"})
ENTITY_KEYS = frozenset({"id", "type", "scope", "@context", "createdAt", "modifiedAt", "deletedAt"})
#: how deep each geometry type nests its positions
_POSITION_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
GEOMETRY_TYPES = frozenset(_POSITION_DEPTH)
_ATTR_TYPE_SET = frozenset(ATTR_TYPES)
GEO_ATTRS = frozenset(NGSI_LD + n for n in ("location", "observationSpace", "operationSpace"))
NULL = "urn:ngsi-ld:null"
#: a fragment's member (never an attribute name: no ':') naming {attribute: datasetIds} to drop
DROP_DATASETS = "@dropDatasets"
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*$")
_BAD_NAME = re.compile(r"[\s<>\"'=;()\[\]\\]")
# §4.6.3: a DateTime is UTC and "shall not contain expressions of the difference between local
# time and UTC": the trailing Z is mandatory, offsets (and local times) are refused
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?Z$")


def now_iso() -> str:
    """UTC now as the ISO 8601 text stored and returned for system timestamps
    (``YYYY-MM-DDTHH:MM:SS.ffffffZ``); formatted once per second, as every write stamps its
    entities and instances."""
    return utc_now(6)


def is_uri(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 2048 and _URI.match(value) is not None


def _invisible(ch: str) -> bool:
    """Characters that render as nothing or alter the display of others (format controls,
    variation selectors, noncharacters, Hangul fillers, the blank Braille pattern): an id
    holding one would look identical to another id (§4.6.2 names, RFC 3987 §4.1, UTS #39)."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs", "Cn")
        or 0xFE00 <= cp <= 0xFE0F
        or 0xE0100 <= cp <= 0xE01EF
        or 0xFDD0 <= cp <= 0xFDEF
        or cp & 0xFFFE == 0xFFFE
        or cp in (0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800)
    )


def check_id(value: Any, what: str = "the entity id") -> str:
    if not isinstance(value, str) or not value:
        raise bad_data(f"{what} must be a non-empty string")
    if not is_uri(value):
        raise bad_data(f"{what} {value!r} is not a URI (e.g. urn:ngsi-ld:Type:001)")
    if not value.isascii() and any(_invisible(c) for c in value):
        raise bad_data(f"{what} {value!r} holds an invisible or format character")
    return value


def attribute_names(doc: Doc) -> Iterator[str]:
    """The expanded attribute names of a stored entity."""
    return (k for k in doc if ":" in k)


def check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 512 or _BAD_NAME.search(name):
        raise bad_data(f"{where}: {name!r} is not a valid attribute name")
    return name


def check_attribute_name(name: Any) -> str:
    """A top-level attribute name: valid, and not one of the core member terms."""
    check_name(name, "attribute")
    if name in RESERVED_NAMES:
        raise bad_data(f"{name!r} is a core NGSI-LD member, not an attribute name")
    return name


def _check_members(atype: str, key: str, raw: dict[str, Any], where: str) -> None:
    """Members an attribute of this type shall not carry (§4.5.2.2-§4.5.24.2). The usual
    instance holds only core members, so the rarer rules run only when others are present."""
    keys = raw.keys()
    foreign = (_CONTENT_KEYS & keys) - {key}
    if foreign:
        raise bad_data(f"{where}: a {atype} cannot carry {', '.join(sorted(foreign))}")
    if atype in _NO_UNIT and "unitCode" in raw:
        raise bad_data(f"{where}: a {atype} has no unitCode")
    if where == PROOF or where.endswith("." + PROOF):
        if not isinstance(raw.get("value"), dict):
            raise bad_data(f"{where}: the value of {PROOF} is a Data Integrity proof object")
    elif _SEALED & keys:
        raise bad_data(f"{where}: sealed members belong to the {PROOF} Property only")
    if keys <= META_KEYS:
        return
    output_only = sorted(_OUTPUT_ONLY & keys)
    if output_only:
        raise bad_data(f"{where}: {', '.join(output_only)} is output only")
    if any(isinstance(k, str) and k.startswith("@") for k in keys):
        raise bad_data(f"{where}: an attribute cannot carry JSON-LD keywords such as @context")
    if atype == "LanguageProperty":
        vtype = raw.get("valueType")
        if vtype is not None and vtype not in ("langString", "rdf:langString"):
            raise bad_data(f"{where}: the valueType of a LanguageProperty is langString")


def _check_datetime(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DATETIME.match(value):
        raise bad_data(f"{where} must be an ISO 8601 date-time in UTC (…Z), got {value!r}")
    return value


def check_geometry(value: Any, where: str) -> dict[str, Any]:
    """A GeoJSON geometry (RFC 7946 §3.1) with finite positions, or BadRequestData."""
    if not isinstance(value, dict):
        raise bad_data(f"{where}: a GeoJSON geometry object is required")
    gtype = value.get("type")
    if not isinstance(gtype, str) or gtype not in GEOMETRY_TYPES:
        raise bad_data(f"{where}: {gtype!r} is not a supported GeoJSON geometry type")
    coords: Any = value.get("coordinates")
    _check_positions(coords, _POSITION_DEPTH[gtype], where)
    if gtype == "LineString" and len(coords) < 2:
        raise bad_data(f"{where}: a LineString needs at least two positions")
    if gtype in ("Polygon", "MultiPolygon"):
        polygons = [coords] if gtype == "Polygon" else coords
        for polygon in polygons:
            if not polygon:
                raise bad_data(f"{where}: a Polygon needs at least one ring")
            for ring in polygon:
                if len(ring) < 4 or ring[0] != ring[-1]:
                    raise bad_data(f"{where}: a Polygon ring needs 4+ positions and must close")
    return {"type": gtype, "coordinates": coords}


def _check_positions(coords: Any, depth: int, where: str) -> None:
    if depth == 0:
        if not isinstance(coords, list) or len(coords) not in (2, 3):
            raise bad_data(f"{where}: a position must be [longitude, latitude(, altitude)]")
        for c in coords:
            if isinstance(c, bool) or not isinstance(c, int | float) or not math.isfinite(c):
                raise bad_data(f"{where}: a position must be [longitude, latitude(, altitude)]")
        if not (-180 <= coords[0] <= 180 and -90 <= coords[1] <= 90):
            raise bad_data(f"{where}: position {coords} is outside longitude/latitude ranges")
        return
    if not isinstance(coords, list) or not coords:
        raise bad_data(f"{where}: malformed GeoJSON coordinates")
    for item in coords:
        _check_positions(item, depth - 1, where)


def looks_like_geometry(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("type"), str)
        and value["type"] in GEOMETRY_TYPES
        and "coordinates" in value
        and len(value) <= 3
    )


def _looks_like_instance(value: Any) -> bool:
    return isinstance(value, dict) and (
        (isinstance(value.get("type"), str) and value["type"] in _ATTR_TYPE_SET)
        or any(k in value for k, _ in _INFER_ORDER)
    )


def parse_attribute(
    iri: str, raw: Any, tm: TermMap, now: str, *, where: str = ""
) -> list[Instance]:
    """The instances of one attribute from its normalized or concise input."""
    where = where or tm.compact(iri)
    if isinstance(raw, list) and raw and all(_looks_like_instance(r) for r in raw):
        instances = [parse_instance(iri, r, tm, now, where=where) for r in raw]
        seen: set[str | None] = set()
        for inst in instances:
            ds = inst.get("datasetId")
            if ds in seen:
                raise bad_data(f"{where}: two instances share the datasetId {ds!r}")
            seen.add(ds)
        return instances
    return [parse_instance(iri, raw, tm, now, where=where)]


def parse_instance(
    iri: str, raw: Any, tm: TermMap, now: str, *, where: str, sub: bool = False
) -> Instance:
    """Validate one attribute instance and return its stored form."""
    if raw is None:
        raise bad_data(f"{where}: an attribute cannot be null")
    if not isinstance(raw, dict):
        raw = {"type": "Property", "value": raw}
    elif looks_like_geometry(raw):
        raw = {"type": "GeoProperty", "value": raw}
    atype = raw.get("type")
    if atype is None:
        atype = next((t for key, t in _INFER_ORDER if key in raw), None)
        if atype is None:
            raw = {"type": "Property", "value": raw}
            atype = "Property"
        elif atype == "Property" and looks_like_geometry(raw.get("value")):
            atype = "GeoProperty"
    if not isinstance(atype, str) or atype not in _ATTR_TYPE_SET:
        raise bad_data(f"{where}: unknown attribute type {atype!r}; one of {', '.join(ATTR_TYPES)}")
    if iri in GEO_ATTRS and atype != "GeoProperty" and not sub:
        raise bad_data(f"{where}: must be a GeoProperty")
    key = CONTENT_KEY[atype]
    if key not in raw or raw[key] is None:
        raise bad_data(f"{where}: a {atype} needs a non-null '{key}'")
    _check_members(atype, key, raw, where)
    content = raw[key]
    inst: Instance = {"type": atype}
    if atype == "Property":
        inst["value"] = content
    elif atype == "GeoProperty":
        inst["value"] = content if content == NULL else check_geometry(content, where)
    elif atype == "Relationship":
        if isinstance(content, list):
            valid = bool(content) and all(is_uri(o) for o in content)
        else:
            valid = is_uri(content)
        if not valid:
            raise bad_data(f"{where}: a Relationship object must be a URI or a list of URIs")
        inst["object"] = content
        if "objectType" in raw:
            inst["objectType"] = _expand_types(raw["objectType"], tm, f"{where}.objectType")
    elif atype == "LanguageProperty":
        if not isinstance(content, dict) or not all(
            isinstance(k, str)
            and k
            and (isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v)))
            for k, v in content.items()
        ):
            raise bad_data(f"{where}: a languageMap maps language tags to strings")
        inst["languageMap"] = content
    elif atype == "VocabProperty":
        values = content if isinstance(content, list) else [content]
        if not values or not all(isinstance(v, str) and v for v in values):
            raise bad_data(f"{where}: a vocab is a term or a list of terms")
        expanded = [tm.expand(v) for v in values]
        inst["vocab"] = expanded if isinstance(content, list) else expanded[0]
    elif atype == "JsonProperty":
        if not isinstance(content, dict) and not (
            isinstance(content, list) and all(isinstance(c, dict) for c in content)
        ):
            raise bad_data(f"{where}: a json member is a JSON object or an array of objects")
        inst["json"] = content
    elif atype == "ListProperty":
        if not isinstance(content, list):
            raise bad_data(f"{where}: a valueList must be a list")
        inst["valueList"] = content
    else:  # ListRelationship
        if not isinstance(content, list):
            raise bad_data(f"{where}: an objectList must be a list")
        objs = [o.get("object") if isinstance(o, dict) else o for o in content]
        if not all(is_uri(o) for o in objs):
            raise bad_data(f"{where}: every objectList entry must be a URI")
        inst["objectList"] = objs
    if "observedAt" in raw:
        inst["observedAt"] = _check_datetime(raw["observedAt"], f"{where}.observedAt")
    if "unitCode" in raw:
        if not isinstance(raw["unitCode"], str) or not raw["unitCode"]:
            raise bad_data(f"{where}.unitCode must be a non-empty string")
        inst["unitCode"] = raw["unitCode"]
    if "datasetId" in raw:
        if sub:
            raise bad_data(f"{where}: a sub-attribute cannot have a datasetId")
        inst["datasetId"] = check_id(raw["datasetId"], f"{where}.datasetId")
    if "lang" in raw and atype == "Property":
        inst["lang"] = raw["lang"]
    for name, value in raw.items():
        if name in META_KEYS:
            continue
        check_name(name, where)
        sub_iri = tm.expand(name)
        inst[sub_iri] = parse_instance(sub_iri, value, tm, now, where=f"{where}.{name}", sub=True)
    inst["createdAt"] = now
    inst["modifiedAt"] = now
    return inst


def _expand_types(raw: Any, tm: TermMap, where: str) -> list[str]:
    types = raw if isinstance(raw, list) else [raw]
    if not types:
        raise bad_data(f"{where} must be a name or a non-empty list of names")
    for t in types:
        if not isinstance(t, str) or not t:
            raise bad_data(f"{where} must be a name or a non-empty list of names")
    for t in types:
        check_name(t, where)
        if t in ("type", "id") or (":" not in t and not t[0].isalpha()):
            raise bad_data(f"{where}: {t!r} is not a type name (§4.6.2: it starts with a letter)")
    out: list[str] = []
    for t in types:
        iri = tm.expand(t)
        if iri not in out:
            out.append(iri)
    return out


def parse_scope(raw: Any) -> list[str]:
    scopes = raw if isinstance(raw, list) else [raw]
    for s in scopes:
        if not isinstance(s, str) or not re.fullmatch(r"(/[^/#+\s]+)+", s):
            raise bad_data(f"scope {s!r} must look like /Madrid/Gardens")
    return list(scopes)


def parse_entity(
    body: Any, tm: TermMap, now: str, *, entity_id: str | None = None, need_type: bool = True
) -> Doc:
    """Validate an entity (create/replace/upsert) and return its stored form."""
    if not isinstance(body, dict):
        raise bad_data("an entity must be a JSON object")
    if entity_id is None:
        if "id" not in body:
            raise bad_data("the entity has no 'id'")
        entity_id = check_id(body["id"])
    elif "id" in body and body["id"] != entity_id:
        raise bad_data(f"the body's id {body['id']!r} differs from the entity id {entity_id!r}")
    if _holds_null(body):
        raise bad_data(
            f"{NULL!r} (the NGSI-LD Null) only deletes in a partial update or merge; "
            "an entity to create or replace cannot contain it"
        )
    doc: Doc = {"id": entity_id}
    if "type" in body:
        doc["type"] = _expand_types(body["type"], tm, "type")
    elif need_type:
        raise bad_data("the entity has no 'type'")
    if "scope" in body:
        doc["scope"] = parse_scope(body["scope"])
    doc["createdAt"] = now
    doc["modifiedAt"] = now
    for name, raw in body.items():
        if name in ENTITY_KEYS:
            continue
        check_attribute_name(name)
        iri = tm.expand(name)
        doc[iri] = parse_attribute(iri, raw, tm, now, where=name)
    return doc


def _holds_null(value: Any) -> bool:
    """Whether the NGSI-LD Null appears anywhere in a JSON value (§5.5.4), outside @context."""
    if isinstance(value, str):
        return value == NULL
    if isinstance(value, dict):
        return any(k != "@context" and _holds_null(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_null(v) for v in value)
    return False


def parse_fragment(body: Any, tm: TermMap, now: str) -> Doc:
    """An entity fragment (attribute append/update/merge): attributes, maybe type and scope."""
    if not isinstance(body, dict):
        raise bad_data("the body must be a JSON object of attributes")
    frag: Doc = {}
    if "type" in body:
        frag["type"] = _expand_types(body["type"], tm, "type")
    if "scope" in body:
        frag["scope"] = parse_scope(body["scope"])
    for name, raw in body.items():
        if name in ENTITY_KEYS:
            continue
        check_attribute_name(name)
        iri = tm.expand(name)
        if _is_null(raw):
            dataset_id = raw.get("datasetId") if isinstance(raw, dict) else None
            if dataset_id is None:
                frag[iri] = None  # merge-patch deletion
            else:  # only the instance of that datasetId goes (§5.5.4)
                check_id(dataset_id, f"{name}.datasetId")
                frag.setdefault(DROP_DATASETS, {}).setdefault(iri, set()).add(dataset_id)
            continue
        frag[iri] = parse_attribute(iri, raw, tm, now, where=name)
    return frag


def drop_datasets(doc: Doc, frag: Doc) -> list[str]:
    """Remove the instances a fragment nulled by datasetId; the names of the attributes that
    had such an instance."""
    touched = []
    for iri, datasets in (frag.get(DROP_DATASETS) or {}).items():
        existing = doc.get(iri) or []
        kept = [i for i in existing if i.get("datasetId") not in datasets]
        if len(kept) == len(existing):
            continue
        touched.append(iri)
        if kept:
            doc[iri] = kept
        else:
            doc.pop(iri)
    return touched


def _is_null(raw: Any) -> bool:
    if raw == NULL:
        return True
    return isinstance(raw, dict) and (raw.get("value") == NULL or raw.get("object") == NULL)


# --- operations on stored documents -------------------------------------------------------


def _keep_created(old: Instance | None, new: Instance) -> Instance:
    if old is not None and "createdAt" in old:
        new["createdAt"] = old["createdAt"]
    return new


def put_instances(existing: list[Instance] | None, new: list[Instance]) -> list[Instance]:
    """Replace same-datasetId instances, add the others (append / update semantics)."""
    out = list(existing or [])
    for inst in new:
        ds = inst.get("datasetId")
        for i, old in enumerate(out):
            if old.get("datasetId") == ds:
                out[i] = _keep_created(old, inst)
                break
        else:
            out.append(inst)
    return out


def merge_instance(old: Instance, new: Instance) -> Instance:
    """Merge-patch one instance: new members win, sub-attributes merge, NULL deletes."""
    if new.get("type") != old.get("type") and "type" in new:
        merged: Instance = {}
        merged.update(new)
        return _keep_created(old, merged)
    merged = dict(old)
    for key, value in new.items():
        if key == "createdAt":
            continue
        if ":" in key and isinstance(value, dict) and value.get("value") == NULL:
            merged.pop(key, None)
            continue
        if ":" in key and isinstance(old.get(key), dict) and isinstance(value, dict):
            merged[key] = merge_instance(old[key], value)
            continue
        merged[key] = value
    return merged


def merge_instances(existing: list[Instance] | None, new: list[Instance]) -> list[Instance]:
    out = list(existing or [])
    for inst in new:
        ds = inst.get("datasetId")
        for i, old in enumerate(out):
            if old.get("datasetId") == ds:
                out[i] = merge_instance(old, inst)
                break
        else:
            out.append(inst)
    return out


def entity_types(doc: Doc) -> list[str]:
    types: list[str] = doc.get("type", [])
    return types
