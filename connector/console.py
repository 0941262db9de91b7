"""The rich console the CLI prints with.

On a terminal rich fits the output to its width. Piped or captured (CI logs, ``| tee``), rich
assumes 80 columns and breaks lines inside hashes and DIDs, which then cannot be copied or
grepped: there, printed lines never wrap and tables get ``COLUMNS`` (default 200) columns.
"""

from __future__ import annotations

import os

from rich.console import Console

WIDE = 200


def output_console() -> Console:
    probe = Console()
    if probe.is_terminal:
        return probe
    try:
        width = int(os.environ.get("COLUMNS", "")) or WIDE
    except ValueError:
        width = WIDE
    return Console(width=max(width, 80), soft_wrap=True)
