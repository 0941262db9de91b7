"""OpenAPI 3.1 description of the management API, generated from its route declarations.

Every `/api/v1` route is added through :func:`connector.http.routes.add_routes`, which keeps its
:class:`~connector.http.routes.Route`; this module turns the routes of the mounted components
into the document (a component that is not mounted declared nothing, so it contributes nothing).
Schemas come from the pydantic models of the declarations, their ``$defs`` shared under
``components/schemas`` (names that two modules both use are made unique by pydantic).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, TypeAdapter

from connector.http.auth import ADMIN, is_public
from connector.http.routes import Route

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 Problem Details; 'detail' says what was wrong and what to do",
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "a URI naming the kind of problem"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "per-field errors of a refused body: JSON pointer and detail",
            "items": {
                "type": "object",
                "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
    "required": ["title", "status"],
    "additionalProperties": True,
}

_PARAM = re.compile(r"{(\w+)(?::[^}]*)?}")


def doc_path(path: str) -> str:
    """The OpenAPI form of an aiohttp path: ``{tail:.*}`` becomes ``{tail}``."""
    return _PARAM.sub(r"{\1}", path)


def _adapter(shape: type[BaseModel] | TypeAdapter[Any]) -> TypeAdapter[Any]:
    return shape if isinstance(shape, TypeAdapter) else TypeAdapter(shape)


def _principals(route: Route) -> list[str]:
    found = getattr(route.handler, "__agora_accepts__", frozenset({ADMIN}))
    return sorted(found)


def _error_statuses(route: Route) -> list[int]:
    found = set(route.errors)
    if route.request is not None or route.query is not None:
        found.add(400)
    if "{" in route.path:
        found.add(404)
    if not is_public(route.handler):
        found |= {401, 403}
    return sorted(found)


def _problem(status: int) -> dict[str, Any]:
    return {
        "description": HTTPStatus(status).phrase + " (RFC 9457 Problem Details)",
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    """An optional parameter's schema without its ``null`` (a query string has none)."""
    prop = dict(prop)
    options = [o for o in prop.get("anyOf", []) if o != {"type": "null"}]
    if "anyOf" in prop and len(options) == 1:
        del prop["anyOf"]
        prop.update(options[0])
    if prop.get("default", 0) is None:
        del prop["default"]
    return prop


def _query_parameters(model: type[BaseModel], schemas: dict[str, Any]) -> list[dict[str, Any]]:
    doc = model.model_json_schema(by_alias=True, ref_template=REF)
    schemas.update(doc.pop("$defs", {}))
    required = set(doc.get("required", []))
    out = []
    for name, prop in doc.get("properties", {}).items():
        prop = _not_null(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        out.append(param)
    return out


def _operation(route: Route, shapes: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    path = doc_path(route.path)
    op: dict[str, Any] = {
        "summary": route.summary,
        "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{route.method.lower()}{path}").strip("_"),
        "tags": list(route.tags) or [path.strip("/").split("/")[0]],
    }
    description = route.description or (route.handler.__doc__ or "").strip()
    principals = _principals(route)
    if is_public(route.handler):
        op["security"] = []
    elif principals != [ADMIN]:
        others = ", ".join(p for p in principals if p != ADMIN)
        description = (description + "\n\n" if description else "") + (
            f"Open to the admin key and to {others} principals (a DCP token whose"
            " credentials make it one)."
        )
        op["security"] = [{"adminKey": []}, {"dcpToken": []}]
    if description:
        op["description"] = " ".join(description.replace("``", "`").split())
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(route.path)
    ]
    if route.query is not None:
        params += _query_parameters(route.query, schemas)
    if params:
        op["parameters"] = params
    if route.request is not None:
        content: dict[str, Any] = {"schema": shapes[(id(route), "request")]}
        if route.example is not None:
            content["example"] = route.example
        op["requestBody"] = {
            "required": route.body_required,
            "content": {"application/json": content},
        }
    success: dict[str, Any] = {"description": HTTPStatus(route.status).phrase}
    if route.status != 204:
        schema = shapes.get((id(route), "response"), {})
        if route.media_type != "application/json" and route.response is None:
            schema = {"type": "string"}
        success["content"] = {route.media_type: {"schema": schema}}
    op["responses"] = {str(route.status): success}
    for status in route.also:
        op["responses"][str(status)] = {**success, "description": HTTPStatus(status).phrase}
    for status in _error_statuses(route):
        op["responses"][str(status)] = _problem(status)
    return op


def openapi_document(routes: Iterable[Route], server_url: str = "/api/v1") -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (the declarations of the mounted components)."""
    routes = list(routes)
    inputs: list[tuple[Any, Any, TypeAdapter[Any]]] = []
    for route in routes:
        if route.request is not None:
            inputs.append(((id(route), "request"), "validation", _adapter(route.request)))
        if route.response is not None:
            inputs.append(((id(route), "response"), "serialization", _adapter(route.response)))
    mapping, defs = TypeAdapter.json_schemas(inputs, ref_template=REF) if inputs else ({}, {})
    shapes = {key: schema for (key, _mode), schema in mapping.items()}
    schemas: dict[str, Any] = {"Problem": PROBLEM_SCHEMA, **defs.get("$defs", {})}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op = _operation(route, shapes, schemas)
        paths.setdefault(doc_path(route.path), {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agora management API",
            "version": "1",
            "description": "The participant's own API: its profile, datasets, policies and "
            "offers; other connectors' catalogs; negotiations, agreements and transfers; "
            "membership, the wallet's credentials and DCP tokens; the ledger; received data; "
            "offerings and payments; the federated catalog. Send the admin key as "
            "'Authorization: Bearer <key>' (or 'X-Api-Key'); this document and the reference "
            "page at /api/v1/docs need none. Errors are RFC 9457 Problem Details.",
        },
        "servers": [{"url": server_url}],
        "security": [{"adminKey": []}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "adminKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "the admin key of agora init (or the X-Api-Key header)",
                },
                "dcpToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a DCP self-issued ID token of another participant (e.g. an "
                    "auditor holding an AuditorCredential)",
                },
            },
        },
    }
