"""`agora demo` runs the whole scenario and exits 0 only when every step succeeded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_succeeds_end_to_end(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    proc = subprocess.run(
        [sys.executable, "-m", "connector", "demo", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env={k: v for k, v in env.items() if k != "COLUMNS"},  # not a terminal, no width
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "steps succeeded" in proc.stdout
    assert "City of Murcia" in proc.stdout
    assert "failed" not in proc.stdout
    # the writer processes stop without a race for their exit status
    assert "Unknown child process" not in proc.stdout + proc.stderr
    # the reports it names exist, the tampered case's too, and their paths are not wrapped
    for name in ("audit-report.html", "audit-report-tampered.html"):
        assert "<svg" in (tmp_path / name).read_text()
        assert f"{tmp_path / name}" in proc.stdout
