"""``agora audit``: verify, consistency, agreement and anchors commands.

Exit status: 0 when every check passed, 1 when any discrepancy was found, 2 when the audit could
not run (bad arguments, unreadable head files, unreachable connector or chain, refused
credentials), always with a one-line reason and never a traceback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from connector.audit import checks, output
from connector.audit.access import Access
from connector.audit.checks import AuditFailure, Outcome
from connector.console import output_console
from ledger.errors import LedgerError
from ledger.treehead import TreeHead

F = TypeVar("F", bound=Callable[..., Any])


class Unusable(click.ClickException):
    """The audit could not run: exit status 2, like click's own usage errors."""

    exit_code = output.UNUSABLE


def _access_options(fn: F) -> F:
    options = [
        click.option(
            "--admin-key",
            envvar="AGORA_AUDIT_ADMIN_KEY",
            help="The audited connector's own admin API key.",
        ),
        click.option(
            "--via",
            "via",
            metavar="AUDITOR_URL",
            help="The auditor's own connector: it mints a DCP token per request.",
        ),
        click.option(
            "--via-key",
            envvar="AGORA_AUDIT_VIA_KEY",
            help="The admin API key of the auditor's connector (with --via).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _output_options(fn: F) -> F:
    options = [
        click.option(
            "--html",
            "html",
            type=click.Path(dir_okay=False, path_type=Path),
            help="Write an HTML report with the timeline.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the report as JSON."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _access(admin_key: str | None, via: str | None, via_key: str | None) -> Access:
    if via and admin_key:
        raise Unusable("give either --admin-key or --via, not both")
    if via and not via_key:
        raise Unusable("--via needs --via-key (the auditor connector's admin API key)")
    if not via and not admin_key:
        raise Unusable("give --admin-key KEY, or --via AUDITOR_URL --via-key KEY")
    return Access(admin_key=admin_key, via_url=via, via_key=via_key)


def read_head(path: Path) -> TreeHead:
    try:
        return TreeHead.from_json(json.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise Unusable(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise Unusable(f"{path} is not JSON: {exc}") from None
    except LedgerError as exc:
        raise Unusable(f"{path} is not a signed tree head: {exc.reason}") from None


def _run(
    command: str, work: Coroutine[Any, Any, Outcome], as_json: bool, html: Path | None
) -> Outcome:
    try:
        outcome = asyncio.run(work)
    except AuditFailure as exc:
        raise Unusable(f"{command}: {exc}") from None
    code = output.emit(command, outcome, console=output_console(), as_json=as_json, html=html)
    if code:
        raise click.exceptions.Exit(code)
    return outcome


@click.group()
def audit() -> None:
    """Audit connectors' provenance logs without trusting either party."""


@audit.command("verify")
@click.argument("url")
@click.option(
    "--previous",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A tree head saved earlier (JSON): the log must extend it.",
)
@click.option(
    "--save-head",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the verified head here for the next audit (only when no discrepancy).",
)
@click.option(
    "--chain", metavar="RPC_URL", help="An Ethereum JSON-RPC node to check the anchors on."
)
@click.option(
    "--contract", help="The anchor contract address (default: the one the connector names)."
)
@click.option("--sender", help="The account every anchor must come from.")
@click.option(
    "--samples",
    default=8,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Inclusion proofs to ask the server for.",
)
@_access_options
@_output_options
def verify(
    url: str,
    previous: Path | None,
    save_head: Path | None,
    chain: str | None,
    contract: str | None,
    sender: str | None,
    samples: int,
    admin_key: str | None,
    via: str | None,
    via_key: str | None,
    html: Path | None,
    as_json: bool,
) -> None:
    """Verify the log at URL end to end: every record against the signed head, inclusion
    samples, consistency with a previously saved head, anchors on chain."""
    access = _access(admin_key, via, via_key)
    earlier = read_head(previous) if previous else None
    work = checks.verify(
        url,
        access,
        previous=earlier,
        chain=chain,
        contract=contract,
        sender=sender,
        samples=samples,
    )
    outcome = _run("verify", work, as_json, html)
    if save_head is not None and outcome.head is not None:
        save_head.write_text(json.dumps(outcome.head.to_json(), indent=2), encoding="utf-8")
        if not as_json:
            click.echo(f"  saved the verified head (size {outcome.head.size}) to {save_head}")


@audit.command("consistency")
@click.argument("url")
@click.option(
    "--first",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The earlier signed head (JSON).",
)
@click.option(
    "--second",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The later signed head (default: the current one).",
)
@_access_options
@_output_options
def consistency(
    url: str,
    first: Path,
    second: Path | None,
    admin_key: str | None,
    via: str | None,
    via_key: str | None,
    html: Path | None,
    as_json: bool,
) -> None:
    """Check that the log at URL only grew between two signed heads (RFC 9162)."""
    access = _access(admin_key, via, via_key)
    later = read_head(second) if second else None
    _run("consistency", checks.consistency(url, access, read_head(first), later), as_json, html)


@audit.command("agreement")
@click.argument("provider_url")
@click.argument("consumer_url")
@click.argument("agreement_id")
@_access_options
@click.option(
    "--consumer-admin-key",
    envvar="AGORA_AUDIT_CONSUMER_ADMIN_KEY",
    help="With --admin-key: the consumer connector's admin key (default: the same key).",
)
@_output_options
def agreement(
    provider_url: str,
    consumer_url: str,
    agreement_id: str,
    admin_key: str | None,
    via: str | None,
    via_key: str | None,
    consumer_admin_key: str | None,
    html: Path | None,
    as_json: bool,
) -> None:
    """Check that provider and consumer logged the same records about AGREEMENT_ID, each with
    the consumer's countersigned receipt."""
    access = _access(admin_key, via, via_key)
    if consumer_admin_key and via:
        raise Unusable("--consumer-admin-key goes with --admin-key, not with --via")
    consumer = Access(admin_key=consumer_admin_key) if consumer_admin_key else None
    work = checks.agreement(provider_url, consumer_url, agreement_id, access, consumer)
    _run("agreement", work, as_json, html)


@audit.command("anchors")
@click.argument("url")
@click.option("--chain", required=True, metavar="RPC_URL", help="The Ethereum JSON-RPC node.")
@click.option(
    "--contract", help="The anchor contract address (default: the one the connector names)."
)
@click.option("--sender", help="The account every anchor must come from.")
@_access_options
@_output_options
def anchors(
    url: str,
    chain: str,
    contract: str | None,
    sender: str | None,
    admin_key: str | None,
    via: str | None,
    via_key: str | None,
    html: Path | None,
    as_json: bool,
) -> None:
    """Check the anchors of the log at URL on the chain: each holds the log's root at its size."""
    access = _access(admin_key, via, via_key)
    _run("anchors", checks.anchors(url, access, chain, contract, sender), as_json, html)
