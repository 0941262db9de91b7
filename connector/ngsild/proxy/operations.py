"""Which PEP operation a forwarded request is, from its method and path under /ngsi-ld/v1.

The names are those the embedded broker uses (see :mod:`connector.ngsild.pep`), so one policy
decides the same way whether the data lives here or in an upstream broker.
"""

from __future__ import annotations

READS = frozenset({"GET", "HEAD", "OPTIONS"})


def operation_for(method: str, path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    m = method.upper()
    if not parts:
        return "proxy.other"
    head = parts[0]
    if head == "entities":
        if len(parts) == 1:
            return {"GET": "entities.query", "DELETE": "entities.purge"}.get(m, "entity.create")
        if len(parts) == 2:
            return {
                "GET": "entity.retrieve",
                "PUT": "entity.replace",
                "PATCH": "entity.merge",
                "DELETE": "entity.delete",
            }.get(m, "entity.other")
        if len(parts) == 3:
            return "attrs.append" if m == "POST" else "attrs.update"
        return {"PATCH": "attrs.patch", "PUT": "attrs.replace", "DELETE": "attrs.delete"}.get(
            m, "attrs.other"
        )
    if head == "entityOperations" and len(parts) == 2:
        return f"batch.{parts[1]}"
    if head in ("types", "attributes"):
        return f"{head}.list" if len(parts) == 1 else f"{head}.retrieve"
    if head == "subscriptions":
        if len(parts) == 1:
            return "subscriptions.list" if m == "GET" else "subscription.create"
        return {
            "GET": "subscription.retrieve",
            "PATCH": "subscription.update",
            "DELETE": "subscription.delete",
        }.get(m, "subscription.other")
    if head == "temporal":
        if len(parts) == 3 and parts[1] == "entityOperations" and parts[2] == "query":
            return "temporal.query"
        if len(parts) <= 2:
            return "temporal.query" if m == "GET" else "temporal.create"
        return {"GET": "temporal.retrieve", "DELETE": "temporal.delete"}.get(m, "temporal.update")
    return "proxy.other"


def is_read(method: str, operation: str) -> bool:
    return method.upper() in READS or operation in ("batch.query", "temporal.query")
