"""Datasets served from a plain HTTP source instead of the NGSI-LD broker.

A city already has JSON files, CSV exports and REST endpoints. Published as a dataset with a
``source``, such an upstream is offered as HttpData only (the consumer need not speak NGSI-LD)
and served by the data plane's source endpoint (:mod:`connector.enforcement.http_data`) under the
same PEP, usage counters and provenance records as the broker's data.

The stored JSON keeps the upstream's ``authorization`` secret; :func:`public_view` is what the
management API shows (whether a secret is set, never its value), and the data address a consumer
gets names only our endpoint, so the secret never leaves the connector.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from connector.dsp.models import HttpSourceIn
from connector.http.problems import Problem
from connector.outbound import OutboundError, check_target, setting_hint
from identity.http_guard import FetchPolicy

#: the data plane path of a source dataset (the dataset id percent-quoted as one segment)
PATH_PREFIX = "/data/v1/datasets/"


@dataclass(frozen=True)
class HttpSource:
    url: str
    authorization: str | None
    media_type: str | None
    max_bytes: int
    forward_query: bool


def stored(source: HttpSourceIn, policy: FetchPolicy) -> str:
    """The JSON to store for ``source``; a URL the outgoing-request policy refuses is a 400."""
    if not source.url.startswith(("https://", "http://")):
        raise Problem(400, "Bad Request", detail="/source/url: an http(s) URL is required")
    try:
        check_target(source.url, policy)
    except OutboundError as exc:
        raise Problem(
            400, "Bad Request", detail=f"/source/url: {exc.detail}{setting_hint(exc)}"
        ) from None
    return json.dumps(source.model_dump(by_alias=True, exclude_none=True))


def parse(raw: str) -> HttpSource:
    doc = json.loads(raw)
    return HttpSource(
        url=doc["url"],
        authorization=doc.get("authorization"),
        media_type=doc.get("mediaType"),
        max_bytes=int(doc.get("maxBytes", 16 * 1024 * 1024)),
        forward_query=bool(doc.get("forwardQuery", False)),
    )


def public_view(raw: str) -> dict[str, Any]:
    """The source as the management API shows it: the secret replaced by whether one is set."""
    doc = json.loads(raw)
    secret = doc.pop("authorization", None)
    doc["hasAuthorization"] = secret is not None
    return doc


def endpoint(public_url: str, dataset_id: str) -> str:
    """Where a consumer GETs a source dataset with its transfer token."""
    return public_url.rstrip("/") + PATH_PREFIX + quote(dataset_id, safe="")
