"""Typed errors of the ledger package: every one derives from :class:`LedgerError`."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error the ledger raises; ``reason`` is a human explanation."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProofError(LedgerError):
    """A Merkle proof was asked for impossible sizes or did not verify."""


class RecordError(LedgerError):
    """A record is malformed or not in canonical form."""


class SignatureError(LedgerError):
    """A tree head or receipt signature is missing, malformed or invalid."""


class StoreError(LedgerError):
    """The persistent store is unreachable, inconsistent or closed."""


class AnchorError(LedgerError):
    """Anchoring on the EVM chain failed or the chain does not hold the expected anchor."""


class AuditClientError(LedgerError):
    """A remote ledger API answered with an error or a malformed document."""
