"""Run the demo scenario and print a readable report; exit 0 only if every step succeeded."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import aiohttp
from rich.console import Console
from rich.table import Table

from connector import logs
from connector.console import output_console
from connector.demo.space import DataSpace
from connector.demo.steps import STEPS


async def run_demo(directory: Path | None, console: Console | None = None) -> int:
    console = console or output_console()
    logs.configure("WARNING", json_format=False)
    logging.getLogger("agora").setLevel(logging.WARNING)
    # without --dir the participants live in a temporary folder removed at the end; the
    # reports the demo prints the paths of go to a folder that stays
    reports = None if directory else Path(tempfile.mkdtemp(prefix="agora-demo-reports-"))
    with tempfile.TemporaryDirectory(prefix="agora-demo-") as tmp:
        root = directory or Path(tmp)
        console.rule("[bold]Agora demo: a data space on one machine")
        results: list[tuple[str, bool, float]] = []
        async with aiohttp.ClientSession() as http:
            space = DataSpace(root=root, http=http, reports=reports)
            try:
                with console.status("starting four connectors…"):
                    await space.start()
                for number, step in enumerate(STEPS, 1):
                    console.print(f"\n[bold cyan]{number}. {step.title}[/]")
                    started = time.perf_counter()
                    try:
                        with console.status(step.title + "…"):
                            lines = await step.run(space)
                    except Exception as exc:
                        console.print(f"   [red]✗ {type(exc).__name__}: {exc}[/]")
                        results.append((step.title, False, time.perf_counter() - started))
                        continue
                    for line in lines:
                        console.print(f"   {line}")
                    results.append((step.title, True, time.perf_counter() - started))
            finally:
                await space.stop()
        table = Table(title="Summary")
        table.add_column("#")
        table.add_column("step")
        table.add_column("result")
        table.add_column("time", justify="right")
        for number, (title, ok, seconds) in enumerate(results, 1):
            table.add_row(
                str(number), title, "[green]ok[/]" if ok else "[red]failed[/]", f"{seconds:.2f}s"
            )
        console.print(table)
        if reports is not None:
            console.print(
                f"The participants' folders were temporary and are removed; the reports stay in"
                f" {reports}. Keep everything with `agora demo --dir DIR`."
            )
        else:
            console.print(f"The participants' folders and reports are in {root}.")
        failed = sum(1 for _, ok, _ in results if not ok)
        if failed or len(results) < len(STEPS):
            console.print(f"[red]{failed} step(s) failed[/]")
            return 1
        console.print(f"[green]all {len(results)} steps succeeded[/]")
        return 0
