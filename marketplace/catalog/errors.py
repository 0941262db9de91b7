"""Why a node's catalog, or one of its datasets, was not indexed."""

from __future__ import annotations

from marketplace.errors import MarketplaceError


class CatalogError(MarketplaceError):
    """A catalog or dataset refused by the crawler; ``reason`` is one of :class:`Why`."""


class Why:
    """Short, stable reasons recorded on a node (``last_error``) and in tests."""

    INVALID = "invalid_catalog"
    TOO_LARGE = "too_large"
    TOO_DEEP = "too_deep"
    CYCLE = "cycle"
    TOO_MANY = "too_many_datasets"
    FOREIGN_PUBLISHER = "foreign_publisher"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    HTTP_STATUS = "http_status"
    REFUSED_URL = "refused_url"
