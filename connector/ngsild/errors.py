"""NGSI-LD error types (GS CIM 009 §5.5.2) as Problem Details the root middleware renders.

Handlers and the service raise these; nothing below the HTTP layer builds error bodies.
"""

from __future__ import annotations

from typing import Any

from connector.http.problems import Problem

BASE = "https://uri.etsi.org/ngsi-ld/errors/"

_STATUS = {
    "InvalidRequest": 400,
    "BadRequestData": 400,
    "AlreadyExists": 409,
    "OperationNotSupported": 422,
    "ResourceNotFound": 404,
    "LdContextNotAvailable": 503,
    "TooManyResults": 403,
    "InternalError": 500,
    "NoMultiTenantSupport": 501,
}


class NgsiError(Problem):
    """A Problem whose ``type`` is one of the NGSI-LD error type URIs."""

    def __init__(
        self, kind: str, detail: str, *, status: int | None = None, **extensions: Any
    ) -> None:
        super().__init__(
            status or _STATUS[kind], kind, detail=detail, type_=BASE + kind, **extensions
        )
        self.kind = kind


def invalid_request(detail: str) -> NgsiError:
    return NgsiError("InvalidRequest", detail)


def bad_data(detail: str) -> NgsiError:
    return NgsiError("BadRequestData", detail)


def not_found(detail: str) -> NgsiError:
    return NgsiError("ResourceNotFound", detail)


def already_exists(detail: str) -> NgsiError:
    return NgsiError("AlreadyExists", detail)


def not_supported(detail: str) -> NgsiError:
    return NgsiError("OperationNotSupported", detail)


def context_unavailable(detail: str) -> NgsiError:
    return NgsiError("LdContextNotAvailable", detail)


def too_many(detail: str) -> NgsiError:
    return NgsiError("TooManyResults", detail)
