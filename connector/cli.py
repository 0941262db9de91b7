"""`agora`: create, serve and demonstrate participants' connectors."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import click

from connector import logs
from connector.config import Role, Settings, load_settings
from connector.errors import ConfigError
from connector.own_api import call_own_api

#: commands defined in other modules, imported only when run: `agora authority list` should
#: not pay for the audit's and the marketplace's imports (seconds on a busy machine)
LAZY_COMMANDS = {
    "audit": "connector.audit.cli:audit",
    "offering": "connector.market.cli:offering",
    "catalog": "connector.catalog.cli:catalog",
    "negotiate": "connector.dsp.cli:negotiate",
    "negotiations": "connector.dsp.cli:negotiations",
    "transfer": "connector.dsp.cli:transfer",
    "decisions": "connector.dsp.cli:decisions",
    "usage": "connector.dsp.cli:usage",
}


class LazyGroup(click.Group):
    """A group whose LAZY_COMMANDS are imported when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            import importlib

            module, _, name = LAZY_COMMANDS[cmd_name].partition(":")
            self.add_command(getattr(importlib.import_module(module), name), cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
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
@click.option(
    "--passphrase-env",
    default="AGORA_KEY_PASSPHRASE",
    show_default=True,
    help="Environment variable whose value (if set) encrypts the key ring.",
)
@click.option(
    "--dev",
    is_flag=True,
    default=False,
    help="Development mode: peers, callbacks and endpoints may be on loopback over plain http "
    "(never in production).",
)
@click.option(
    "--country",
    default=None,
    help="ISO 3166-1 alpha-2 code, e.g. ES: joining a data space needs it.",
)
@click.option("--description", default=None, help="What the participant says of itself.")
@click.option("--homepage", default=None, help="https://… shown in catalogs.")
@click.option("--contact-email", default=None, help="Who to write to about its data.")
def init(
    directory: Path,
    name: str,
    role: str,
    host: str,
    port: int,
    storage_url: str | None,
    passphrase_env: str,
    dev: bool,
    country: str | None,
    description: str | None,
    homepage: str | None,
    contact_email: str | None,
) -> None:
    """Create a participant directory: settings, fresh keys and an admin API key.

    Then `agora serve DIR`, and join a data space with `agora join DIR AUTHORITY_URL`.
    """
    from connector.participant import init_participant

    profile = {
        "country": country.upper() if country else None,
        "description": description,
        "homepage": homepage,
        "contact_email": contact_email,
    }
    try:
        result = init_participant(
            directory,
            name,
            role,
            host=host,
            port=port,
            storage_url=storage_url,
            passphrase=os.environ.get(passphrase_env) or None,
            passphrase_env=passphrase_env,
            dev_mode=dev,
            profile={k: v for k, v in profile.items() if v},
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created {result.directory}/agora.toml for {name} ({role}).")
    if dev:
        click.echo("Development mode: loopback and plain http allowed. Never use it in production.")
    click.echo(f"Admin API key (also in {result.directory}/admin-api-key, mode 0600):")
    click.echo(f"  {result.admin_key}")


def loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop to serve on: uvloop (libuv) unless configured otherwise or missing."""
    if choice == "uvloop":
        try:
            import uvloop
        except ImportError:  # not installed (e.g. Windows): the standard loop does the same work
            return None
        return uvloop.new_event_loop
    return None


async def _serve(settings: Settings, host: str | None, port: int | None) -> None:
    from connector.runtime import Connector

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
        # What start-up built (modules, schemas, the embedded chain) lives as long as the
        # process: frozen out of the collector's reach, full collections while serving no longer
        # walk it (hundreds of thousands of objects, milliseconds of pause each time).
        gc.collect()
        gc.freeze()
        # Young collections every 10,000 net allocations instead of 700: a request allocates
        # hundreds of short-lived containers, most of them freed by reference counting before
        # any collection would look at them; at 700 the collector ran every few requests and
        # took about 4% of the CPU of a single NGSI-LD create (0.04 ms -> 0.004 ms).
        gc.set_threshold(10_000, 10, 10)
        loop_kind = type(asyncio.get_running_loop()).__module__.split(".")[0]
        click.echo(
            f"{settings.participant.name} serving at {connector.url} as {settings.did}"
            f" (event loop: {loop_kind})"
        )
        sys.stdout.flush()  # a log file or a pipe sees it now, not when the buffer fills
        await stop.wait()
        click.echo("stopping…")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--host", default=None, help="Override server.host.")
@click.option("--port", default=None, type=click.IntRange(0, 65535), help="Override server.port.")
def serve(directory: Path, host: str | None, port: int | None) -> None:
    """Serve the participant in DIRECTORY until SIGTERM or Ctrl-C."""
    try:
        settings = load_settings(directory)
        with asyncio.Runner(loop_factory=loop_factory(settings.server.event_loop)) as runner:
            runner.run(_serve(settings, host, port))
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


@main.group()
def authority() -> None:
    """Decide membership as the data-space authority (calls the running authority's API)."""


def _authority_call(
    directory: Path, url: str | None, method: str, path: str, payload: object = None
) -> object:
    """Call the authority's own management API; refuse at once a directory that is not one."""
    try:
        role = load_settings(directory).participant.role
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if role is not Role.AUTHORITY:
        raise click.ClickException(
            f"{directory} is a {role.value}, not the data-space authority: `agora authority`"
            " commands run on the authority's directory (one made with `agora init --role"
            " authority`); a member joins with `agora join DIR AUTHORITY_URL`"
        )
    return call_own_api(directory, url, method, path, payload, what="the authority")


_URL_OPTION = click.option(
    "--url", default=None, help="The running authority's base URL (default: its public_url)."
)


@authority.command("list")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_URL_OPTION
def authority_list(directory: Path, url: str | None) -> None:
    """Show membership requests and members."""
    requests = _authority_call(directory, url, "GET", "/authority/requests")
    members = _authority_call(directory, url, "GET", "/authority/members?all=true")
    requests = requests if isinstance(requests, list) else []
    members = members if isinstance(members, list) else []
    click.echo(f"Requests ({len(requests)}):")
    for r in requests:
        click.echo(f"  {r['id']}  {r['state']:<9} {r['role']:<8} {r['name']}  {r['did']}")
    if not requests:
        click.echo("  (none: a participant applies with `agora join ITS_DIR AUTHORITY_URL`)")
    elif any(r["state"] == "pending" for r in requests):
        click.echo(f"  decide with `agora authority approve|reject {directory} REQUEST_ID`")
    click.echo(f"Members ({len(members)}):")
    for m in members:
        click.echo(f"  {m['state']:<8} {m['role']:<8} {m['name']}  {m['did']}")
    if not members:
        click.echo("  (none yet)")


def _request_of(directory: Path, url: str | None, request_id: str) -> str:
    """A request id as given, or the pending request of the applicant DID given instead."""
    if not request_id.startswith("did:"):
        return request_id
    found = _authority_call(directory, url, "GET", "/authority/requests")
    pending = [
        r["id"]
        for r in (found if isinstance(found, list) else [])
        if r.get("did") == request_id and r.get("state") == "pending"
    ]
    if not pending:
        raise click.ClickException(
            f"{request_id} has no pending membership request (see `agora authority list"
            f" {directory}`)"
        )
    return str(pending[-1])


@authority.command("approve")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("request_id")
@_URL_OPTION
def authority_approve(directory: Path, request_id: str, url: str | None) -> None:
    """Admit the applicant of REQUEST_ID (or of the applicant DID's pending request): issue
    and deliver its credentials."""
    from urllib.parse import quote

    request_id = _request_of(directory, url, request_id)
    result = _authority_call(
        directory, url, "POST", f"/authority/requests/{quote(request_id, safe='')}/approve"
    )
    assert isinstance(result, dict)
    click.echo(f"Approved {result['name']} ({result['role']}) {result['did']}.")


@authority.command("reject")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("request_id")
@click.option("--reason", default="", help="Told to the applicant (at most 500 characters).")
@_URL_OPTION
def authority_reject(directory: Path, request_id: str, reason: str, url: str | None) -> None:
    """Refuse the application REQUEST_ID (or the applicant DID's pending one); the applicant
    gets no credential."""
    from urllib.parse import quote

    request_id = _request_of(directory, url, request_id)

    result = _authority_call(
        directory,
        url,
        "POST",
        f"/authority/requests/{quote(request_id, safe='')}/reject",
        {"reason": reason} if reason else None,
    )
    assert isinstance(result, dict)
    click.echo(f"Rejected {result['name']} ({result['role']}) {result['did']}.")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("authority_url")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 (default: from agora init).")
@click.option("--url", default=None, help="This connector's base URL (default: its public_url).")
def join(directory: Path, authority_url: str, country: str | None, url: str | None) -> None:
    """Apply for membership of the data space whose authority serves at AUTHORITY_URL.

    The connector of DIRECTORY must be running (`agora serve DIR`). The authority's operator
    then approves (`agora authority approve`) or rejects; the credentials arrive by themselves.
    """
    payload: dict[str, str] = {"authority": authority_url.rstrip("/")}
    if country:
        payload["country"] = country.upper()
    result = call_own_api(directory, url, "POST", "/membership", payload)
    assert isinstance(result, dict)
    state = result.get("state")
    click.echo(
        f"Applied to {result.get('authorityDid')}: request {result.get('requestId')}, {state}."
    )
    if state == "pending":
        click.echo(
            "The authority's operator decides: `agora authority approve AUTHORITY_DIR "
            f"{result.get('requestId')}` (or reject). Check with `agora membership {directory}`."
        )
    for cred in result.get("credentials") or []:
        click.echo(f"  holds {cred.get('type')} from {cred.get('issuer')}")


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--url", default=None, help="This connector's base URL (default: its public_url).")
def membership(directory: Path, url: str | None) -> None:
    """Show DIRECTORY's membership of its data space and the credentials it holds."""
    result = call_own_api(directory, url, "GET", "/membership")
    assert isinstance(result, dict)
    click.echo(f"{result.get('state')} at {result.get('authority')} ({result.get('authorityDid')})")
    if result.get("detail"):
        click.echo(f"  the authority says: {result['detail']}")
    if result.get("checked") is False:
        click.echo("  (the authority could not be asked just now: this is the last state known)")
    for cred in result.get("credentials") or []:
        click.echo(f"  holds {cred.get('type')} from {cred.get('issuer')}")
    if not result.get("credentials"):
        click.echo("  (no credential yet)")


@authority.command("revoke")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("did")
@_URL_OPTION
def authority_revoke(directory: Path, did: str, url: str | None) -> None:
    """Revoke every credential of the member DID; verifiers refuse it from then on."""
    from urllib.parse import quote

    result = _authority_call(
        directory, url, "POST", f"/authority/members/{quote(did, safe='')}/revoke"
    )
    assert isinstance(result, dict)
    click.echo(f"Revoked {did}: {len(result['revokedCredentials'])} credential(s).")


def _suspension_command(action: str, verb: str, doc: str) -> None:
    @authority.command(action, help=doc)
    @click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
    @click.argument("did")
    @_URL_OPTION
    def command(directory: Path, did: str, url: str | None) -> None:
        from urllib.parse import quote

        result = _authority_call(
            directory, url, "POST", f"/authority/members/{quote(did, safe='')}/{action}"
        )
        assert isinstance(result, dict)
        click.echo(f"{verb} {did}: {len(result['credentials'])} credential(s).")


_suspension_command(
    "suspend", "Suspended", "Suspend the member DID; verifiers refuse it until reinstated."
)
_suspension_command(
    "reinstate", "Reinstated", "Lift the suspension of the member DID; verifiers accept it again."
)


@main.group()
def template() -> None:
    """The city policy templates: list them, and store one as a policy to offer."""


def _connector_url_option(fn: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--url", default=None, help="The running connector's base URL (default: its public_url)."
    )(fn)


@template.command("list")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_connector_url_option
def template_list(directory: Path, url: str | None) -> None:
    """The templates DIR's running connector offers, with their parameters."""
    found = call_own_api(directory, url, "GET", "/policy-templates")
    for t in found if isinstance(found, list) else []:
        click.echo(f"{t['name']}: {t['description']}")
        for p in t["parameters"]:
            flag = " (required)" if p.get("required") else ""
            shown = p.get("default")
            shown = ", ".join(shown) if isinstance(shown, list) else shown
            default = f" [default: {shown}]" if "default" in p else ""
            click.echo(f"    {p['name']}: {p['type']}{flag}{default}")


def _param_value(text: str) -> object:
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


@template.command("apply")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("name")
@click.option("--types", default=None, help="Entity types, comma-separated (the offer's scope).")
@click.option("--attributes", default=None, help="Attributes, comma-separated.")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A template parameter (VALUE as JSON, else a string), e.g. amount=49.00.",
)
@click.option("--id", "policy_id", default=None, help="The policy's id (default: a new urn:uuid).")
@click.option("--dataset", default=None, help="Also offer this dataset under the new policy.")
@click.option("--offer-id", default=None, help="The offer's id (--dataset; default: a new one).")
@click.option(
    "--approval",
    type=click.Choice(["automatic", "manual"]),
    default="automatic",
    show_default=True,
    help="manual: each request for the offer waits for `agora decisions approve` (--dataset).",
)
@_connector_url_option
def template_apply(
    directory: Path,
    name: str,
    types: str | None,
    attributes: str | None,
    params: tuple[str, ...],
    policy_id: str | None,
    dataset: str | None,
    offer_id: str | None,
    approval: str,
    url: str | None,
) -> None:
    """Store template NAME as a policy of DIR's running connector (and offer a dataset)."""
    from urllib.parse import quote

    values: dict[str, object] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--param")
        values[key] = _param_value(value)
    if types:
        values["entityTypes"] = [t.strip() for t in types.split(",") if t.strip()]
    if attributes:
        values["attributes"] = [a.strip() for a in attributes.split(",") if a.strip()]
    payload: dict[str, object] = {"parameters": values}
    if policy_id:
        payload["id"] = policy_id
    stored = call_own_api(
        directory, url, "POST", f"/policy-templates/{quote(name, safe='')}", payload
    )
    assert isinstance(stored, dict)
    click.echo(f"Stored policy {stored['id']} from template {name}.")
    if dataset:
        body: dict[str, object] = {"datasetId": dataset, "policyId": stored["id"]}
        if offer_id:
            body["id"] = offer_id
        if approval == "manual":
            body["decisions"] = {"agree": "manual"}
        offer = call_own_api(directory, url, "POST", "/offers", body)
        assert isinstance(offer, dict)
        waits = " (each request waits for your approval)" if approval == "manual" else ""
        click.echo(f"Offered dataset {dataset} as {offer.get('id')}{waits}.")
