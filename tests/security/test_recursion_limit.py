"""Importing web3 (py_ecc) and starting the embedded chain (py-evm) must not leave the
interpreter's recursion limit at 100,000: with it, C-level recursion overflows the stack and
the process dies (SIGSEGV) instead of raising RecursionError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_importing_web3_leaves_the_recursion_limit_as_it_was() -> None:
    """In a fresh interpreter: the connector runtime, the anchoring module and the embedded
    chain (which imports py-evm) are loaded, and the limit is still the interpreter's."""
    code = (
        "import sys; before = sys.getrecursionlimit()\n"
        "import connector.runtime, connector.components, connector.provenance.component\n"
        "import ledger.anchor; ledger.anchor.embedded_web3()\n"
        "print(before, sys.getrecursionlimit())\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
        env=env,
    )
    before, after = (int(v) for v in out.stdout.split())
    assert after == before
    assert after <= 10_000
