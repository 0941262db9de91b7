"""Subscription documents (§5.2.12): validation of what clients send, and the status members
the broker adds when it renders one.

The stored document keeps the client's short names and its @context (under ``@context``), so a
subscription reads back as it was written; :mod:`.compiled` binds the names to IRIs for
matching. Validation always runs on the whole document, for creation and after a PATCH merge,
so no sequence of updates can produce a subscription that creation would refuse.
"""

from __future__ import annotations

import math
import re
import uuid
from datetime import datetime
from typing import Any

from connector.ngsild.errors import bad_data
from connector.ngsild.model import check_id, check_name
from connector.ngsild.query.geo import parse_geoquery
from connector.ngsild.query.patterns import checked_pattern
from connector.ngsild.query.q import parse_q
from connector.ngsild.query.selectors import parse_scope_q, parse_types
from connector.ngsild.subscriptions.endpoints import EndpointRules, check_endpoint
from connector.ngsild.temporal.times import normalize, now_utc, parse_time

Doc = dict[str, Any]

FORMATS = ("normalized", "keyValues", "concise")
ACCEPTS = ("application/json", "application/ld+json", "application/geo+json")
TRIGGERS = (
    "entityCreated",
    "entityUpdated",
    "entityDeleted",
    "attributeCreated",
    "attributeUpdated",
    "attributeDeleted",
)
DEFAULT_TRIGGERS = ("entityCreated", "entityUpdated", "attributeCreated", "attributeUpdated")
#: members the broker maintains; a client may not set them
READ_ONLY = frozenset(
    {"status", "createdAt", "modifiedAt", "timesSent", "timesFailed", "lastNotification"}
)
KNOWN = frozenset(
    {
        "id",
        "type",
        "@context",
        "subscriptionName",
        "description",
        "entities",
        "watchedAttributes",
        "notificationTrigger",
        "timeInterval",
        "q",
        "geoQ",
        "csf",
        "scopeQ",
        "isActive",
        "notification",
        "expiresAt",
        "throttling",
        "lang",
        "jsonldContext",
        "showChanges",
        "sysAttrs",
    }
)
NOTIFICATION_KEYS = frozenset({"attributes", "sysAttrs", "format", "endpoint", "showChanges"})
ENDPOINT_KEYS = frozenset({"uri", "accept", "receiverInfo", "notifierInfo", "timeout"})
NOTIFICATION_STATUS_KEYS = frozenset(
    {"status", "timesSent", "timesFailed", "lastNotification", "lastSuccess", "lastFailure"}
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")


def new_id() -> str:
    return f"urn:ngsi-ld:Subscription:{uuid.uuid4()}"


def _names(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise bad_data(f"{what} must be a non-empty list of attribute names")
    for name in value:
        check_name(name, what)
    return list(dict.fromkeys(value))


def _number(value: Any, what: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad_data(f"{what} must be a number of seconds")
    if value < 0 or (positive and value == 0):
        raise bad_data(f"{what} must be {'greater than 0' if positive else 'at least 0'}")
    return float(value)


def _selectors(value: Any) -> list[Doc]:
    if not isinstance(value, list) or not value:
        raise bad_data("entities must be a non-empty list of EntitySelector objects")
    out = []
    for i, sel in enumerate(value):
        where = f"entities[{i}]"
        if not isinstance(sel, dict):
            raise bad_data(f"{where} must be an object with type and optionally id or idPattern")
        extra = set(sel) - {"id", "idPattern", "type"}
        if extra:
            raise bad_data(f"{where} has unknown members {sorted(extra)}")
        if not isinstance(sel.get("type"), str) or not sel["type"]:
            raise bad_data(f"{where}.type is required (an entity type or type expression)")
        parse_types(sel["type"])
        if "id" in sel and "idPattern" in sel:
            raise bad_data(f"{where}: give id or idPattern, not both")
        if "id" in sel:
            check_id(sel["id"], f"{where}.id")
        if "idPattern" in sel:
            if not sel["idPattern"]:
                raise bad_data(f"{where}.idPattern must be a regular expression")
            checked_pattern(sel["idPattern"], f"{where}.idPattern")
        out.append(dict(sel))
    return out


def _key_values(value: Any, what: str) -> list[Doc]:
    if not isinstance(value, list):
        raise bad_data(f"{what} must be a list of {{key, value}} objects")
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"key", "value"}
            or not isinstance(item["key"], str)
            or not isinstance(item["value"], str)
            or not _HEADER_NAME.match(item["key"])
            or any(c in item["value"] for c in "\r\n")
        ):
            raise bad_data(f"{what}: every entry is {{'key': token, 'value': text}}")
    return [dict(i) for i in value]


def _notification(value: Any, rules: EndpointRules) -> Doc:
    if not isinstance(value, dict):
        raise bad_data("notification is required: an object with an endpoint")
    extra = set(value) - NOTIFICATION_KEYS - NOTIFICATION_STATUS_KEYS
    if extra:
        raise bad_data(f"notification has unknown members {sorted(extra)}")
    out: Doc = {k: v for k, v in value.items() if k not in NOTIFICATION_STATUS_KEYS}
    if "attributes" in out:
        out["attributes"] = _names(out["attributes"], "notification.attributes")
    fmt = out.get("format", "normalized")
    if fmt not in FORMATS:
        raise bad_data(f"notification.format {fmt!r} is not one of {', '.join(FORMATS)}")
    for flag in ("sysAttrs", "showChanges"):
        if flag in out and not isinstance(out[flag], bool):
            raise bad_data(f"notification.{flag} must be true or false")
    endpoint = out.get("endpoint")
    if not isinstance(endpoint, dict):
        raise bad_data("notification.endpoint is required: an object with a uri")
    extra = set(endpoint) - ENDPOINT_KEYS
    if extra:
        raise bad_data(f"notification.endpoint has unknown members {sorted(extra)}")
    check_endpoint(endpoint.get("uri"), rules)
    accept = endpoint.get("accept", "application/json")
    if accept not in ACCEPTS:
        raise bad_data(f"notification.endpoint.accept must be one of {', '.join(ACCEPTS)}")
    for key in ("receiverInfo", "notifierInfo"):
        if key in endpoint:
            _key_values(endpoint[key], f"notification.endpoint.{key}")
    if "timeout" in endpoint:
        _number(endpoint["timeout"], "notification.endpoint.timeout", positive=True)
    return out


def validate(doc: Doc, rules: EndpointRules, *, creating: bool) -> Doc:
    """The checked subscription document (a copy); BadRequestData on the first problem."""
    if not isinstance(doc, dict):
        raise bad_data("a subscription must be a JSON object")
    if doc.get("type") != "Subscription":
        raise bad_data("the subscription's type must be 'Subscription'")
    extra = set(doc) - KNOWN - READ_ONLY
    if extra:
        raise bad_data(f"unknown subscription members {sorted(extra)}")
    out: Doc = {k: v for k, v in doc.items() if k not in READ_ONLY}
    if "id" in out:
        check_id(out["id"], "the subscription id")
    for key in ("subscriptionName", "description"):
        if key in out and not isinstance(out[key], str):
            raise bad_data(f"{key} must be a string")
    if "entities" in out:
        out["entities"] = _selectors(out["entities"])
    if "watchedAttributes" in out:
        out["watchedAttributes"] = _names(out["watchedAttributes"], "watchedAttributes")
    if "entities" not in out and "watchedAttributes" not in out:
        raise bad_data("a subscription needs entities or watchedAttributes (or both)")
    if "timeInterval" in out:
        _number(out["timeInterval"], "timeInterval", positive=True)
        if "watchedAttributes" in out:
            raise bad_data("timeInterval and watchedAttributes cannot be used together")
        if "throttling" in out:
            raise bad_data("timeInterval and throttling cannot be used together")
        if "entities" not in out:
            raise bad_data("a periodic (timeInterval) subscription needs entities")
    if "throttling" in out:
        _number(out["throttling"], "throttling", positive=False)
    if "notificationTrigger" in out:
        triggers = out["notificationTrigger"]
        if (
            not isinstance(triggers, list)
            or not triggers
            or any(t not in TRIGGERS for t in triggers)
        ):
            raise bad_data(f"notificationTrigger must be a non-empty list of {', '.join(TRIGGERS)}")
    if "q" in out:
        if not isinstance(out["q"], str) or not out["q"]:
            raise bad_data("q must be a non-empty query string")
        parse_q(out["q"])
    if "scopeQ" in out:
        if not isinstance(out["scopeQ"], str):
            raise bad_data("scopeQ must be a string")
        parse_scope_q(out["scopeQ"])
    if "geoQ" in out:
        geo = out["geoQ"]
        if not isinstance(geo, dict):
            raise bad_data("geoQ must be an object with geometry, coordinates and georel")
        extra = set(geo) - {"geometry", "coordinates", "georel", "geoproperty"}
        if extra:
            raise bad_data(f"geoQ has unknown members {sorted(extra)}")
        parse_geoquery(geo.get("georel"), geo.get("geometry"), geo.get("coordinates"), "_")
    if "csf" in out:
        raise bad_data("csf (context source filters) is not supported by this broker")
    if "isActive" in out and not isinstance(out["isActive"], bool):
        raise bad_data("isActive must be true or false")
    if "lang" in out and not isinstance(out["lang"], str):
        raise bad_data("lang must be a language tag list")
    if "expiresAt" in out:
        expires = parse_time(out["expiresAt"], "expiresAt")
        if creating and expires <= now_utc():
            raise bad_data("expiresAt must be in the future")
        out["expiresAt"] = normalize(out["expiresAt"], "expiresAt")
    out["notification"] = _notification(out.get("notification"), rules)
    return out


def merge_patch(current: Doc, fragment: Any) -> Doc:
    """PATCH /subscriptions/{id} (§5.8.2): top-level members replace, ``null`` removes."""
    if not isinstance(fragment, dict) or not fragment:
        raise bad_data("the body must be a non-empty JSON object of subscription members")
    if "id" in fragment and fragment["id"] != current["id"]:
        raise bad_data("the subscription id cannot be changed")
    if "type" in fragment and fragment["type"] != "Subscription":
        raise bad_data("the subscription's type must be 'Subscription'")
    out = dict(current)
    for key, value in fragment.items():
        if key in READ_ONLY:
            raise bad_data(f"{key} is maintained by the broker and cannot be set")
        if value is None or value == "urn:ngsi-ld:null":
            out.pop(key, None)
        elif key == "notification" and isinstance(value, dict):
            merged = dict(out.get("notification") or {})
            merged.update(value)
            out["notification"] = merged
        else:
            out[key] = value
    return out


def status_of(doc: Doc, now: datetime) -> str:
    """active, paused (isActive false) or expired (expiresAt passed)."""
    expires = doc.get("expiresAt")
    if expires is not None and parse_time(expires, "expiresAt") <= now:
        return "expired"
    return "active" if doc.get("isActive", True) else "paused"
