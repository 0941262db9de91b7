"""identity's typed rejections as RFC 9457 problems: 401 with the stable reason code.

Callers (and tests) branch on ``reason`` (identity.Reason values such as ``revoked`` or
``replayed``), never on the human ``detail``.
"""

from __future__ import annotations

from connector.http.problems import Problem
from identity import IdentityError

PROBLEM_BASE = "https://agora.dataspace/problems/"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="agora", error="invalid_token"'}


def dcp_problem(exc: IdentityError, status: int = 401) -> Problem:
    """The answer to a caller whose DCP token or credentials were refused."""
    titles = {401: "Unauthorized", 403: "Forbidden", 400: "Bad Request", 501: "Not Implemented"}
    return Problem(
        status,
        titles.get(status, "Unauthorized"),
        detail=exc.detail,
        type_=PROBLEM_BASE + exc.reason.value,
        headers=CHALLENGE if status == 401 else None,
        reason=exc.reason.value,
    )
