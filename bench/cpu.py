"""CPU time of a process and its children, read from /proc: the benchmarks' cost figure that
holds steady when other work shares the machine."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and of its live descendants (Linux /proc; e.g. the
    ledger's SQLite writer process), to report cost per request even when other work shares
    the machine."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    if pid not in stats:
        return float("nan")
    family, total = {pid}, 0.0
    for child in sorted(stats):  # a child's pid is usually above its parent's
        if stats[child][0] in family:
            family.add(child)
    for member in family:
        total += stats[member][1]
    return total
