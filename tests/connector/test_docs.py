"""The documentation's links lead somewhere: a newcomer follows them first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    p
    for p in [
        ROOT / "README.md",
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("docs/guides/*.md"),
        *ROOT.glob("*/README.md"),
    ]
    if p.exists()
)  # fmt: skip
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")
MENTION = re.compile(r"`((?:docs|scripts)/[\w./-]+)`")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_named_file_exists(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    missing = [
        target
        for target in LINK.findall(text)
        if "://" not in target
        and not target.startswith("mailto:")
        and not (page.parent / target).exists()
    ]
    missing += [name for name in MENTION.findall(text) if not (ROOT / name).exists()]
    assert not missing, f"{page.relative_to(ROOT)} names missing files: {missing}"
