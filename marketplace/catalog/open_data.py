"""Open data rules the catalog enforces on what it indexes.

The EU High-Value Datasets regulation (Implementing Regulation (EU) 2023/138) requires HVDs
to be available free of charge: a dataset tagged with an HVD category and offered only at a
price is refused (:func:`lint_entry`), with the reason recorded on its node. A dataset is
*open* when it is free and carries a licence (e.g. CC-BY-4.0); the search can ask for those.
"""

from __future__ import annotations

from typing import Protocol

from marketplace.catalog.errors import CatalogError


class Listed(Protocol):
    """What these rules read of a catalog entry (:class:`marketplace.catalog.entries.Entry`),
    so the entry's parser can apply them without the two modules importing each other."""

    @property
    def free(self) -> bool: ...

    @property
    def license(self) -> str: ...

    @property
    def hvd_category(self) -> str: ...

    @property
    def price_model(self) -> str: ...


HVD_PRICED = "hvd_priced"

#: licences under which a free dataset counts as open data (SPDX ids or their usual IRIs)
OPEN_LICENCES = ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "ODbL-1.0", "PDDL-1.0")


def is_open(entry: Listed) -> bool:
    return entry.free and bool(entry.license)


def lint_entry(entry: Listed) -> None:
    """Raise a :class:`CatalogError` (``hvd_priced``) for a priced High-Value Dataset."""
    if entry.hvd_category and not entry.free:
        raise CatalogError(
            HVD_PRICED,
            field="hasPolicy",
            expected="a free offer (High-Value Dataset, Regulation (EU) 2023/138)",
            found=entry.price_model,
        )
