"""Run the public ODRL suites: ``python -m bench.odrl_conformance PATH…``.

Each PATH is a work tree of one suite, recognised by its layout: today the SolidLab ODRL Test
Suite (``data/test_cases``); SolidLab's ODRL-Test-Conflicts (``data/test_case``) and the W3C
formal-semantics examples (a folder holding ``examples``) are recognised and refused as not yet
run. Prints one JSON object with the
passed/total figures per suite and the failing cases with the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import solidlab


def _suite(path: Path) -> tuple[str, list[Any]]:
    data = path / "data" if (path / "data").is_dir() else path
    if (data / "test_cases").is_dir():
        return "solidlab", solidlab.run(path)
    if (data / "test_case").is_dir():
        from . import conflicts

        return "conflicts", conflicts.run(path)
    for examples in (path, path / "examples", path / "formal-semantics" / "examples"):
        if any(examples.glob("*/*/policy*.json")):
            from . import w3c

            return "w3c", w3c.run(examples)
    raise SystemExit(f"{path}: not a suite this script knows (see the module docstring)")


def main(argv: list[str]) -> int:
    if not argv:
        raise SystemExit(__doc__)
    result: dict[str, Any] = {}
    for arg in argv:
        name, outcomes = _suite(Path(arg))
        figures: dict[str, Any] = {
            "passed": sum(o.passed for o in outcomes),
            "total": len(outcomes),
            "compiled_agrees": sum(o.agree for o in outcomes),
        }
        if name == "solidlab":
            figures["activation_metric"] = sum(o.activation for o in outcomes)
        if name == "w3c":
            figures["passed_as_written"] = sum(o.as_written for o in outcomes)
        figures["failures"] = {o.case: o.detail for o in outcomes if not o.passed}
        defective = {o.case: o.defect for o in outcomes if getattr(o, "defect", "")}
        if defective:
            figures["defective"] = defective
        result[name] = figures
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
