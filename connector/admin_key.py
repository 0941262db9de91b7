"""Where a participant keeps its admin API key: light enough for every CLI command to read."""

from __future__ import annotations

from pathlib import Path

ADMIN_KEY_FILE = "admin-api-key"


def read_admin_key(directory: Path) -> str:
    return (directory / ADMIN_KEY_FILE).read_text(encoding="utf-8").strip()
