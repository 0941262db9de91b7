"""`agora`: create, serve and demonstrate participants' connectors."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import click

from connector import logs
from connector.config import Role, load_settings
from connector.errors import ConfigError
from connector.participant import init_participant


@click.group()
@click.version_option(package_name="agora-dataspace")
def main() -> None:
    """Agora: a data-space connector for cities."""


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", required=True, help='The participant\'s legal name, e.g. "City of Murcia".')
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--storage-url", default=None, help="postgresql+asyncpg://… (default: SQLite in DIR)")
def init(
    directory: Path, name: str, role: str, host: str, port: int, storage_url: str | None
) -> None:
    """Create a participant directory: settings, fresh keys and an admin API key."""
    try:
        result = init_participant(
            directory,
            name,
            role,
            host=host,
            port=port,
            storage_url=storage_url,
            passphrase=os.environ.get("AGORA_KEY_PASSPHRASE"),
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {result.directory}/agora.toml for {name} ({role}).")
    click.echo(f"Admin API key (also in {result.directory}/admin-api-key, mode 0600):")
    click.echo(f"  {result.admin_key}")


async def _serve(directory: Path, host: str | None, port: int | None) -> None:
    from connector.runtime import Connector

    settings = load_settings(directory)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    logs.configure(settings.logging.level, settings.logging.json_format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Connector(settings) as connector:
        click.echo(f"{settings.participant.name} serving at {connector.url} as {settings.did}")
        await stop.wait()
        click.echo("stopping…")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Override server.port.")
def serve(directory: Path, host: str | None, port: int | None) -> None:
    """Serve the participant in DIRECTORY until SIGTERM or Ctrl-C."""
    try:
        asyncio.run(_serve(directory, host, port))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot serve: {exc}") from None


@main.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the participants here (default: a temporary directory, removed afterwards).",
)
def demo(directory: Path | None) -> None:
    """Run a whole data space on this machine and walk through the scenario."""
    from connector.demo.runner import run_demo

    sys.exit(asyncio.run(run_demo(directory)))


@main.group()
def keys() -> None:
    """The participant's identity key ring (DIR/keys)."""


@keys.command("rotate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def keys_rotate(directory: Path) -> None:
    """Make a new active key; the old one stays in the DID document so its signatures verify.

    A running connector signs with the new key after its next restart.
    """
    from connector.keys import rotate_keys

    try:
        old, new = rotate_keys(load_settings(directory))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Retired {old} (still verifies); new active key {new}.")
