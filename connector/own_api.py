"""The CLI's client of a participant's own running management API.

One helper for every `agora` command that talks to a running connector (membership, authority,
templates, offerings, catalog), so they all authenticate, encode and report refusals the same way:
a Problem is printed as its detail, an unreachable connector names the `agora serve` to run.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import click

from connector.config import load_settings
from connector.errors import ConfigError


def call_own_api(
    directory: Path,
    url: str | None,
    method: str,
    path: str,
    payload: object = None,
    *,
    what: str = "the connector",
    encode: Callable[[object], str] | None = None,
) -> object:
    """Call ``/api/v1{path}`` of the participant in ``directory`` with its admin key.

    ``url`` overrides the participant's ``public_url``; ``encode`` writes the payload (default
    ``json.dumps``; the marketplace passes its Decimal-exact encoder)."""
    from connector.admin_key import read_admin_key

    try:
        settings = load_settings(directory)
        key = read_admin_key(directory)
    except (ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    base = (url or settings.public_url).rstrip("/")
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    data = None
    if payload is not None:
        data = (encode or json.dumps)(payload).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base + "/api/v1" + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            problem = json.loads(exc.read())
            detail = problem.get("detail") or problem.get("title")
        except (ValueError, AttributeError):
            detail = exc.reason
        raise click.ClickException(f"{exc.code}: {detail}") from None
    except OSError as exc:
        raise click.ClickException(
            f"cannot reach {what} at {base} (is `agora serve {directory}` running?): {exc}"
        ) from None
