"""OpenAPI 3.1 description of the management API, generated from the routes and their models.

Generated rather than hand-kept so that a route cannot exist without being documented: the
document lists every route of :data:`connector.dsp.management.ROUTES` and
:data:`connector.trust.membership.ROUTES` plus the foundation's ``/participant`` routes, with
request schemas taken from the pydantic models that validate them.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from connector.catalog import component as catalog_api
from connector.dsp import decision_queue, edr, models
from connector.dsp.management import ROUTES as DSP_ROUTES
from connector.management.api import Profile
from connector.trust import membership as trust_api

REQUEST_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    ("POST", "/datasets"): models.DatasetIn,
    ("POST", "/policies"): models.PolicyIn,
    ("POST", "/offers"): models.OfferIn,
    ("PATCH", "/datasets/{id}"): models.DatasetPatch,
    ("PUT", "/policies/{id}"): models.PolicyIn,
    ("POST", "/catalog/request"): models.CatalogRequestIn,
    ("POST", "/catalog/dataset"): models.DatasetRequestIn,
    ("POST", "/negotiations"): models.NegotiationIn,
    ("POST", "/negotiations/offers"): models.ProviderOfferIn,
    ("POST", "/negotiations/{pid}/request"): models.CounterRequestIn,
    ("POST", "/negotiations/{pid}/offer"): models.CounterOfferIn,
    ("POST", "/negotiations/{pid}/terminate"): models.ReasonIn,
    ("POST", "/transfers"): models.TransferIn,
    ("POST", "/transfers/{pid}/{action}"): models.ReasonIn,
    ("PUT", "/participant/profile"): Profile,
    **trust_api.REQUEST_MODELS,
    ("POST", "/decisions/{pid}/approve"): models.DecisionIn,
    ("POST", "/decisions/{pid}/decline"): models.DecisionIn,
}
ROUTES = [*DSP_ROUTES, *decision_queue.ROUTES, *edr.ROUTES]

FOUNDATION = [
    ("GET", "/participant", "Who this connector is: name, role, DID, public URL, profile"),
    ("PUT", "/participant/profile", "Replace the participant's public profile"),
]

PROBLEM = {
    "description": "RFC 9457 Problem Details",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _success(method: str, path: str) -> dict[str, Any]:
    if method == "DELETE":
        return {"204": {"description": "Deleted"}}
    return {
        "200" if method != "POST" or "{" in path else "201": {
            "description": "OK",
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}},
        }
    }


def _operation(method: str, path: str, summary: str, schemas: dict[str, Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": re.sub(r"[^a-zA-Z0-9]+", "_", f"{method.lower()}{path}").strip("_"),
        "responses": {
            **_success(method, path),
            "400": PROBLEM,
            "401": PROBLEM,
            "404": PROBLEM,
            "409": PROBLEM,
        },
    }
    params = re.findall(r"{(\w+)}", path)
    if params:
        op["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
    model = REQUEST_MODELS.get((method, path))
    if model is not None:
        name = model.__name__
        schemas[name] = model.model_json_schema(
            by_alias=True, ref_template="#/components/schemas/{model}"
        )
        for sub_name, sub in schemas[name].pop("$defs", {}).items():
            schemas[sub_name] = sub
        op["requestBody"] = {
            "required": (method, path)
            not in {
                ("POST", "/negotiations/{pid}/terminate"),
                ("POST", "/transfers/{pid}/{action}"),
            },
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    return op


def openapi_document(server_url: str = "/api/v1") -> dict[str, Any]:
    schemas: dict[str, Any] = {
        "Problem": {
            "type": "object",
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
            },
        }
    }
    paths: dict[str, dict[str, Any]] = {}
    for method, path, summary in FOUNDATION:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, summary, schemas)
    for method, path, _, summary in [*ROUTES, *trust_api.ROUTES, *catalog_api.ROUTES]:
        paths.setdefault(path, {})[method.lower()] = _operation(method, path, summary, schemas)
    for (method, path), parameters in catalog_api.PARAMETERS.items():
        paths[path][method.lower()]["parameters"] = parameters
    paths["/openapi.json"] = {
        "get": {
            "summary": "This document",
            "operationId": "get_openapi",
            "responses": {"200": {"description": "OpenAPI 3.1"}},
        }
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Agora management API",
            "version": "1",
            "description": "The participant's own API (admin key): profile, datasets, policies, "
            "offers, catalogs of other connectors, negotiations, agreements and transfers, "
            "membership, the wallet's credentials and issuance requests, DCP tokens.",
        },
        "servers": [{"url": server_url}],
        "security": [{"adminKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"adminKey": {"type": "http", "scheme": "bearer"}},
        },
    }
