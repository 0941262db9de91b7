"""Serves the management API's description: the OpenAPI document and a reference page.

Both are open without the admin key (they say how to call the API, nothing of its data) and
work offline: the page is rendered here from the document, no script, no CDN.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from pydantic import Field

from connector.http.auth import public
from connector.http.routes import Route, View, declared
from connector.management.openapi import openapi_document

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def type_text(schema: Any) -> str:
    """A schema as a short type for people: ``array of DatasetView``, ``string | null``."""
    if not isinstance(schema, dict) or not schema:
        return "any"
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(type_text(s) for s in schema[key])
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return "array of " + type_text(schema.get("items"))
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return "object of " + type_text(schema["additionalProperties"])
    if isinstance(kind, list):
        return " | ".join(map(str, kind))
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if kind and fmt else str(kind or "any")


_TEMPLATES.filters["type_text"] = type_text
_NAME = re.compile(r"[A-Za-z][\w-]*")


def type_html(schema: Any, names: Any) -> Markup:
    """:func:`type_text` with each schema name linked to its entry on the page."""
    text = type_text(schema)
    out, last = [], 0
    for found in _NAME.finditer(text):
        out.append(escape(text[last : found.start()]))
        word = found.group(0)
        if word in names:
            out.append(Markup('<a href="#schema-{0}">{0}</a>').format(word))
        else:
            out.append(escape(word))
        last = found.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


_TEMPLATES.filters["type_html"] = type_html


def reference_html(doc: dict[str, Any]) -> str:
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            groups.setdefault(op["tags"][0], []).append(
                {"method": method.upper(), "path": path, **op}
            )
    return _TEMPLATES.get_template("reference.html").render(
        doc=doc, groups=sorted(groups.items()), schemas=doc["components"]["schemas"]
    )


class OpenApiInfo(View):
    openapi: str = Field(description="3.1.0")
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


def routes(api: web.Application) -> list[Route]:
    """The description routes of ``api``; the document is built once, on first request, from
    the routes declared by then (every component mounted before the server starts)."""
    built: dict[str, Any] = {}

    def document() -> dict[str, Any]:
        if "doc" not in built:
            built["doc"] = openapi_document(declared(api))
            built["html"] = reference_html(built["doc"])
        return built

    @public
    async def openapi_json(request: web.Request) -> web.Response:
        return web.json_response(document()["doc"])

    @public
    async def reference(request: web.Request) -> web.Response:
        return web.Response(text=document()["html"], content_type="text/html")

    return [
        Route(
            "GET",
            "/openapi.json",
            openapi_json,
            "This document (OpenAPI 3.1)",
            response=OpenApiInfo,
            tags=("about",),
        ),
        Route(
            "GET",
            "/docs",
            reference,
            "The reference page: every route, parameter and schema",
            media_type="text/html",
            tags=("about",),
        ),
    ]
