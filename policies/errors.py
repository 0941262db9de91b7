"""Typed errors of the policies library.

Every failure the library reports is a :class:`PoliciesError`, so the connector can map the whole
family to one Problem Details type without knowing our internals.
"""

from __future__ import annotations


class PoliciesError(Exception):
    """Base class of every error raised by :mod:`policies`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PolicyError(PoliciesError):
    """A policy document is not a valid ODRL policy.

    ``path`` is a JSON path into the document as the caller wrote it (``$.permission[0].action``)
    so an author can find the fault without reading our code.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UsageError(PoliciesError):
    """The usage-state store could not record or read a counter."""


class PaymentError(PoliciesError, ValueError):
    """A payment event or a price is malformed (a float amount, an unknown currency …)."""
