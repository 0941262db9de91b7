"""Kept for imports of ``Running`` from here; the fixtures live in tests/conftest.py."""

from tests.support import Running

__all__ = ["Running"]
