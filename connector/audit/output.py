"""Audit results for people (a rich summary, an HTML page with the timeline) and for programs
(JSON). The exit status is decided here too: 0 only when no discrepancy was found."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from connector.audit.checks import Outcome
from ledger.report import render_html

OK, DISCREPANCY, UNUSABLE = 0, 1, 2


def exit_status(outcome: Outcome) -> int:
    return OK if outcome.report.ok else DISCREPANCY


def to_json(command: str, outcome: Outcome) -> dict[str, Any]:
    return {"command": command, **outcome.report.to_json(), "notes": outcome.notes}


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def summary_lines(outcome: Outcome) -> list[str]:
    """A few plain lines: the verdict, what was checked, and each discrepancy by name."""
    report = outcome.report
    verdict = "OK" if report.ok else f"{len(report.discrepancies)} DISCREPANCIES"
    lines = [f"{report.subject}: {verdict}"]
    if report.head is not None:
        lines.append(
            f"signed head: size {report.head.size}, root {report.head.root.hex()[:16]}…, "
            f"{_time(report.head.timestamp)}"
        )
    lines.append(f"checked: {', '.join(dict.fromkeys(report.checks))}")
    lines.append(f"records checked: {report.records_checked}")
    for d in report.discrepancies:
        where = f" [#{d.index}]" if d.index is not None else ""
        lines.append(f"{d.kind}{where}: {d.detail}")
    return lines


def print_report(console: Console, outcome: Outcome) -> None:
    report = outcome.report
    style = "bold green" if report.ok else "bold red"
    count = len(report.discrepancies)
    verdict = "no discrepancy" if report.ok else f"{count} discrepanc{'y' if count == 1 else 'ies'}"
    console.print(f"[bold]{report.subject}[/bold]: [{style}]{verdict}[/{style}]")
    if report.head is not None:
        console.print(
            f"  signed tree head: size {report.head.size}, root {report.head.root.hex()}, "
            f"{_time(report.head.timestamp)}, key {report.head.kid}"
        )
    console.print(f"  records checked: {report.records_checked}")
    console.print(f"  checks: {', '.join(dict.fromkeys(report.checks))}")
    for note in outcome.notes:
        console.print(f"  [dim]note:[/dim] {note}")
    if report.discrepancies:
        table = Table("finding", "index", "detail", show_lines=False)
        for d in report.discrepancies:
            table.add_row(str(d.kind), "" if d.index is None else str(d.index), d.detail)
        console.print(table)


def write_html(path: Path, outcome: Outcome) -> None:
    path.write_text(render_html(outcome.report), encoding="utf-8")


def emit(
    command: str,
    outcome: Outcome,
    *,
    console: Console,
    as_json: bool = False,
    html: Path | None = None,
) -> int:
    """Print the outcome (rich or JSON), write the HTML report if asked; the exit status."""
    if html is not None:
        write_html(html, outcome)
    if as_json:
        click.echo(json.dumps(to_json(command, outcome), indent=2))
    else:
        print_report(console, outcome)
        if html is not None:
            console.print(f"  HTML report: {html}")
    return exit_status(outcome)
