"""schemathesis against a served document: a few safe GET routes with generated inputs (valid
and invalid), no 5xx, and each answer conforming to the document (status, type, schema).

Blocking (``requests``): the async tests run it on a thread while their connectors serve."""

from __future__ import annotations

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

TIMEOUT_S = 20.0
#: read-only routes, most with query parameters for the generator to vary
SAFE_GETS = (
    "/participant",
    "/datasets",
    "/offers",
    "/negotiations",
    "/transfers",
    "/offerings",
    "/ledger/tree-head",
    "/ledger/records",
    "/ledger/proofs/inclusion",
    "/ledger/proofs/consistency",
    "/catalog/search",
    "/received",
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FEW = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


def safe_gets_conform(url: str, admin_key: str) -> list[str]:
    """The failures (empty: none) of the safe GET routes of the document served at ``url``."""
    schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json", timeout=TIMEOUT_S)
    operations = []
    for result in schema.get_all_operations():
        op = result.ok()  # type: ignore[union-attr]  # an Err raises here: the test fails
        if op.method.upper() == "GET" and op.path in SAFE_GETS:
            operations.append(op)
    assert len(operations) == len(SAFE_GETS), sorted(op.path for op in operations)
    key = {"Authorization": f"Bearer {admin_key}"}
    failures: list[str] = []
    with requests.Session() as http:
        for operation in operations:
            cases = st.one_of(
                operation.as_strategy(GenerationMode.POSITIVE),
                operation.as_strategy(GenerationMode.NEGATIVE),
            )

            @FEW
            @given(case=cases)
            def one(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=url + "/api/v1",
                    session=http,
                    headers=key,
                    checks=CHECKS,
                    timeout=TIMEOUT_S,
                )

            try:
                one()
            except Exception as exc:
                failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:800]}")
    return failures
