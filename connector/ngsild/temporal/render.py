"""The temporal representations (§4.5.7, §4.5.9): normalized (every attribute an array of its
instances, each with its ``instanceId``; a deletion is an instance with the NGSI-LD Null as
content and ``deletedAt``, a deleted entity carries ``deletedAt`` too) and simplified
(``options=temporalValues``: per attribute and datasetId, ``[content, time]`` pairs)."""

from __future__ import annotations

from typing import Any

from connector.ngsild.context import TermMap
from connector.ngsild.model import CONTENT_KEY
from connector.ngsild.render import View, render_instance
from connector.ngsild.temporal.query import TemporalEntity

#: the member that lists an attribute type's [content, time] pairs in the simplified form
SIMPLIFIED_KEY = {
    "Property": "values",
    "GeoProperty": "values",
    "Relationship": "objects",
    "LanguageProperty": "languageMaps",
    "VocabProperty": "vocabs",
    "JsonProperty": "jsons",
    "ListProperty": "valueLists",
    "ListRelationship": "objectLists",
}


def _content(inst: dict[str, Any], tm: TermMap) -> Any:
    kind = inst.get("type", "Property")
    content = inst.get(CONTENT_KEY.get(kind, "value"))
    if kind == "VocabProperty":
        if isinstance(content, list):
            return [tm.compact(v) for v in content]
        return tm.compact(str(content))
    return content


def render_temporal(
    entity: TemporalEntity, tm: TermMap, *, simplified: bool, sys_attrs: bool, timeproperty: str
) -> dict[str, Any]:
    types = [tm.compact(t) for t in entity.types]
    out: dict[str, Any] = {"id": entity.entity_id, "type": types[0] if len(types) == 1 else types}
    if entity.deleted_at is not None:
        out["deletedAt"] = entity.deleted_at
    view = View(sys_attrs=sys_attrs)
    by_name: dict[str, list[Any]] = {}
    for row in entity.rows:
        by_name.setdefault(row.name, []).append(row)
    for name, rows in by_name.items():
        short = tm.compact(name)
        if not simplified:
            items = []
            for row in rows:
                rendered = render_instance(row.instance, tm, view, concise=False)
                rendered["instanceId"] = row.instance_id
                items.append(rendered)
            out[short] = items
            continue
        groups: dict[str | None, dict[str, Any]] = {}
        for row in rows:
            kind = row.instance.get("type", "Property")
            group = groups.get(row.dataset_id)
            if group is None:
                group = {"type": kind, SIMPLIFIED_KEY.get(kind, "values"): []}
                if row.dataset_id is not None:
                    group["datasetId"] = row.dataset_id
                groups[row.dataset_id] = group
            key = SIMPLIFIED_KEY.get(kind, "values")
            at = row.instance.get(timeproperty) or row.time(timeproperty)
            group.setdefault(key, []).append([_content(row.instance, tm), at])
        values = list(groups.values())
        out[short] = values[0] if len(values) == 1 else values
    return out
