"""Typed errors of the marketplace library.

Every refusal is a :class:`MarketplaceError` that names the field, what was expected and what was
found, so the connector can turn it into one clear Problem without parsing messages.
"""

from __future__ import annotations

from typing import Any


class MarketplaceError(ValueError):
    """Base of every marketplace refusal. ``field`` is a dotted path into the input, or ``""``."""

    def __init__(
        self,
        reason: str,
        *,
        field: str = "",
        expected: str | None = None,
        found: Any = None,
    ) -> None:
        self.reason = reason
        self.field = field
        self.expected = expected
        self.found = found
        super().__init__(self._text())

    def _text(self) -> str:
        text = f"{self.field}: {self.reason}" if self.field else self.reason
        if self.expected is not None:
            text += f" (expected {self.expected}, found {self.found!r})"
        return text

    def at(self, prefix: str) -> MarketplaceError:
        """The same error with ``prefix`` put in front of its field path (for nested input)."""
        self.field = f"{prefix}.{self.field}" if self.field else prefix
        self.args = (self._text(),)
        return self


class MoneyError(MarketplaceError):
    """A malformed, negative, non-finite or out-of-range amount."""


class UnknownCurrencyError(MoneyError):
    """A currency that is not an active ISO 4217 code (or its IRI)."""


class CurrencyMismatchError(MoneyError):
    """Arithmetic between amounts of two currencies."""


class PlanError(MarketplaceError):
    """A price plan that is malformed or inconsistent."""


class TierError(PlanError):
    """A tier table with a gap, an overlap, a wrong start or no open-ended last tier."""


class UsageError(MarketplaceError):
    """Usage that cannot be rated under the plan (negative counts, a wrong period)."""


class OfferingError(MarketplaceError):
    """An offering that is malformed, or terms inconsistent with its plans."""


class LifecycleError(OfferingError):
    """A lifecycle transition or an edit that the offering's state does not allow."""


class ViewError(MarketplaceError):
    """A TMF or DSP document that does not describe an Agora offering or price."""


class OrderStateError(MarketplaceError):
    """A negotiation state that has no order state (or needs who terminated it)."""
