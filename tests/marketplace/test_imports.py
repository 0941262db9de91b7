"""marketplace/ is a library: it imports the leaf packages and third-party code, never connector."""

from __future__ import annotations

import ast
from pathlib import Path

import marketplace

ALLOWED_FIRST_PARTY = {"marketplace", "policies", "identity", "ledger"}
FIRST_PARTY = ALLOWED_FIRST_PARTY | {"connector", "bench", "tests"}


def test_marketplace_imports_only_the_leaf_packages() -> None:
    root = Path(marketplace.__file__).parent
    found: set[tuple[str, str]] = set()
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top in FIRST_PARTY and top not in ALLOWED_FIRST_PARTY:
                    found.add((str(path.relative_to(root)), name))
    assert found == set()
    assert len(list(root.rglob("*.py"))) >= 10  # the walk saw the package
