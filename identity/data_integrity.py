"""Data Integrity proofs, through the optional ``didkit`` backend.

Agora's own credentials are VC-JWTs; Data Integrity (JSON-LD proofs) is accepted only when the
``didkit`` extra is installed. It is imported lazily so the package works without it, and the
missing-dependency case is a clear, typed error rather than an ImportError deep in a request.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from .errors import DependencyMissingError, Reason, TokenError

INSTALL_HINT = "Data Integrity proofs need didkit: install agora-dataspace[didkit]"


def _didkit() -> Any:
    try:
        return importlib.import_module("didkit")
    except ImportError as exc:
        raise DependencyMissingError(Reason.DEPENDENCY_MISSING, INSTALL_HINT) from exc


async def verify_data_integrity(credential: dict[str, Any]) -> dict[str, Any]:
    """Verify the embedded ``proof`` of a credential and return the credential."""
    if not isinstance(credential, dict) or "proof" not in credential:
        raise TokenError(Reason.MALFORMED, "a Data Integrity credential needs a proof")
    didkit = _didkit()
    result = json.loads(
        await didkit.verify_credential(
            json.dumps(credential), json.dumps({"proofPurpose": "assertionMethod"})
        )
    )
    if result.get("errors"):
        raise TokenError(Reason.BAD_SIGNATURE, f"Data Integrity proof rejected: {result['errors']}")
    return credential
