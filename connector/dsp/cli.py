"""``agora negotiate|negotiations|transfer|decisions``: the DSP jobs of a running connector.

A newcomer should not have to copy an ODRL offer out of a DCAT catalog by hand: ``negotiate``
fetches the provider's catalog, picks the dataset's offer and sends it; ``transfer`` starts a
PULL transfer and prints how to pull through this connector. Every command calls the
connector's own management API with its admin key, so the connector checks it as it checks any
other client. ``--quiet`` prints only the id a script needs next.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from connector.own_api import call_own_api

_DIR = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
_URL = click.option("--url", default=None, help="This connector's base URL (default: public_url).")
_QUIET = click.option("-q", "--quiet", is_flag=True, help="Print only the id (for scripts).")
ENDED = {"FINALIZED", "TERMINATED"}
POLL_S = 0.2


def call(directory: Path, url: str | None, method: str, path: str, body: Any = None) -> Any:
    return call_own_api(directory, url, method, path, body)


def _wait(
    directory: Path, url: str | None, path: str, until: set[str], timeout: float
) -> dict[str, Any]:
    """Poll a negotiation or transfer until it reaches one of ``until`` or ``timeout`` ends."""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = call(directory, url, "GET", path)
        if found["state"] in until or time.monotonic() >= deadline:
            return found
        time.sleep(POLL_S)


def pick_offer(catalog: dict[str, Any], dataset_id: str, offer_id: str | None) -> dict[str, Any]:
    """The offer of ``dataset_id`` in a DSP catalog (``offer_id``, or its only one)."""
    datasets = [d for d in catalog.get("dataset") or [] if d.get("@id") == dataset_id]
    if not datasets:
        known = ", ".join(str(d.get("@id")) for d in catalog.get("dataset") or []) or "none"
        raise click.ClickException(
            f"the provider's catalog has no dataset {dataset_id} (it offers: {known}); "
            "find one with `agora catalog search`"
        )
    offers = datasets[0].get("hasPolicy") or []
    if offer_id is not None:
        offers = [o for o in offers if o.get("@id") == offer_id]
    if len(offers) != 1:
        ids = ", ".join(str(o.get("@id")) for o in datasets[0].get("hasPolicy") or [])
        what = "no offer" if not offers else f"{len(offers)} offers"
        raise click.ClickException(
            f"{dataset_id} has {what}{f' {offer_id}' if offer_id else ''}; "
            f"choose one with --offer (its offers: {ids or 'none'})"
        )
    return dict(offers[0])


def dsp_endpoint(catalog: dict[str, Any], fallback: str) -> str:
    """Where the provider takes DSP messages: the data service its catalog names."""
    for service in catalog.get("service") or []:
        endpoint = service.get("endpointURL") if isinstance(service, dict) else None
        if isinstance(endpoint, str) and endpoint:
            return endpoint
    return fallback


@click.command()
@_DIR
@click.argument("provider_url")
@click.argument("dataset_id")
@click.option("--offer", "offer_id", default=None, help="The offer's id, if it has several.")
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds to wait for the agreement (0: do not wait).",
)
@_QUIET
@_URL
def negotiate(
    directory: Path,
    provider_url: str,
    dataset_id: str,
    offer_id: str | None,
    timeout: float,
    quiet: bool,
    url: str | None,
) -> None:
    """Negotiate DATASET_ID's offer with the connector at PROVIDER_URL (Dataspace Protocol).

    Waits for the agreement; with --quiet prints only the agreement id. An offer whose
    provider decides by hand stays REQUESTED: then --quiet prints the negotiation id, to wait
    for with `agora negotiations DIR --wait ID --quiet` once the provider approved.
    """
    provider_url = provider_url.rstrip("/")
    catalog = call(
        directory, url, "POST", "/catalog/request", {"counterPartyAddress": provider_url}
    )
    offer = pick_offer(catalog, dataset_id, offer_id)
    body: dict[str, Any] = {
        "counterPartyAddress": dsp_endpoint(catalog, provider_url),
        "offer": offer,
        "target": dataset_id,
    }
    if catalog.get("participantId"):
        body["counterPartyId"] = catalog["participantId"]
    started = call(directory, url, "POST", "/negotiations", body)
    pid = started["id"]
    if not quiet:
        click.echo(f"Negotiation {pid}: requested offer {offer.get('@id')} of {dataset_id}.")
    found = _wait(directory, url, f"/negotiations/{quote(pid, safe='')}", ENDED, timeout)
    state = found["state"]
    if state == "FINALIZED":
        click.echo(
            found["agreementId"] if quiet else f"FINALIZED: agreement {found['agreementId']}"
        )
        return
    if state == "TERMINATED":
        raise click.ClickException(f"negotiation {pid} TERMINATED: {found.get('error') or ''}")
    if quiet:
        click.echo(pid)
    else:
        click.echo(
            f"{state}: waiting for the provider's decision (its operator runs `agora decisions"
            f" approve`); then `agora negotiations {directory} --wait {pid}`."
        )


@click.command()
@_DIR
@click.option("--state", default=None, help="Only these, e.g. FINALIZED.")
@click.option(
    "--wait",
    "wait_for",
    default=None,
    metavar="ID",
    help="Wait (up to --timeout) until negotiation ID ends, then show it alone.",
)
@click.option("--timeout", default=30.0, show_default=True, type=click.FloatRange(0, 3600))
@_QUIET
@_URL
def negotiations(
    directory: Path,
    state: str | None,
    wait_for: str | None,
    timeout: float,
    quiet: bool,
    url: str | None,
) -> None:
    """List the negotiations of DIR's connector: id, state, dataset and agreement.

    With --wait ID and --quiet, prints only the agreement id of negotiation ID.
    """
    if wait_for is not None:
        one = _wait(directory, url, f"/negotiations/{quote(wait_for, safe='')}", ENDED, timeout)
        if quiet:
            if one["state"] != "FINALIZED":
                raise click.ClickException(f"negotiation {wait_for} is {one['state']}")
            click.echo(one["agreementId"])
            return
        found = [one]
    else:
        query = f"?state={quote(state)}" if state else ""
        found = call(directory, url, "GET", "/negotiations" + query)
    if not found:
        click.echo("(no negotiation)")
    for n in found:
        agreement = f"  agreement {n['agreementId']}" if n.get("agreementId") else ""
        role = n.get("role", "")
        click.echo(f"{n['id']}  {n['state']:<10} {role:<8} {n.get('datasetId') or ''}{agreement}")


@click.command()
@_DIR
@click.argument("agreement_id")
@click.option(
    "--format",
    "format_",
    default="NGSI-LD-PULL",
    show_default=True,
    type=click.Choice(["NGSI-LD-PULL", "HttpData-PULL"]),
)
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds to wait for the provider to start it.",
)
@_QUIET
@_URL
def transfer(
    directory: Path,
    agreement_id: str,
    format_: str,
    timeout: float,
    quiet: bool,
    url: str | None,
) -> None:
    """Start a PULL transfer under AGREEMENT_ID and print how to pull the data.

    With --quiet prints only the transfer id. Pull through this connector (it keeps the
    token and the record of what was received): GET /api/v1/pull/TRANSFER_ID/entities?type=….
    """
    from connector.config import load_settings
    from connector.errors import ConfigError

    started = call(
        directory, url, "POST", "/transfers", {"agreementId": agreement_id, "format": format_}
    )
    tid = started["id"]
    found = _wait(
        directory, url, f"/transfers/{quote(tid, safe='')}", {"STARTED", "TERMINATED"}, timeout
    )
    if found["state"] == "TERMINATED":
        raise click.ClickException(f"transfer {tid} TERMINATED: {found.get('error') or ''}")
    if found["state"] != "STARTED":
        raise click.ClickException(
            f"transfer {tid} is {found['state']} after {timeout:g} s: the provider has not"
            " started it yet (its operator may have to approve it); see GET /api/v1/transfers"
        )
    if quiet:
        click.echo(tid)
        return
    try:
        base = (url or load_settings(directory).public_url).rstrip("/")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Transfer {tid} STARTED ({format_}).")
    click.echo(f"Pull through your connector: {base}/api/v1/pull/{tid}/entities?type=…")
    click.echo(f"  with the header Authorization: Bearer $(cat {directory}/admin-api-key)")


@click.group()
def decisions() -> None:
    """Negotiations and transfers waiting for this operator's decision."""


@decisions.command("list")
@_DIR
@click.option("--ids", is_flag=True, help="Print only their ids, one a line (for scripts).")
@_URL
def decisions_list(directory: Path, ids: bool, url: str | None) -> None:
    """What waits for a decision, oldest first."""
    found = call(directory, url, "GET", "/decisions")
    if ids:
        for d in found:
            click.echo(d["id"])
        return
    click.echo(f"{len(found)} waiting")
    for d in found:
        who = d.get("counterPartyId") or ""
        click.echo(f"  {d['id']}  {d['process']:<11} {d['decision']:<14} from {who}")
    if found:
        click.echo(f"  decide with `agora decisions approve|decline {directory} ID`")


def _decide(action: str, done: str, doc: str) -> None:
    @decisions.command(action, help=doc)
    @_DIR
    @click.argument("process_id")
    @click.option("--reason", default=None, help="Told to the counter-party (decline).")
    @_URL
    def command(directory: Path, process_id: str, reason: str | None, url: str | None) -> None:
        payload = {"reason": reason} if reason else None
        view = call(
            directory, url, "POST", f"/decisions/{quote(process_id, safe='')}/{action}", payload
        )
        click.echo(f"{done} {process_id}: now {view['state']}.")


_decide("approve", "Approved", "Approve the decision PROCESS_ID waits for.")
_decide("decline", "Declined", "Decline it: the negotiation or transfer is terminated.")


@click.command()
@_DIR
@click.option("--agreement", "agreement_id", default=None, help="Every access under this one.")
@_URL
def usage(directory: Path, agreement_id: str | None, url: str | None) -> None:
    """How the data of DIR's agreements was used, from its provenance ledger.

    Each data-plane request under an agreement is an `access` record of the ledger (permitted
    or denied); this counts them per agreement, or lists them for one with --agreement.
    """
    agreements = call(directory, url, "GET", "/agreements")
    if agreement_id is not None:
        agreements = [a for a in agreements if a["id"] == agreement_id]
        if not agreements:
            raise click.ClickException(
                f"{directory} holds no agreement {agreement_id} (see `agora usage {directory}`)"
            )
    if not agreements:
        click.echo("(no agreement yet)")
    for a in agreements:
        found = call(directory, url, "GET", f"/ledger/records?agreement={quote(a['id'], safe='')}")
        uses = [r["record"] for r in found["records"] if r["record"].get("kind") == "access"]
        permits = sum(1 for r in uses if r.get("decision") == "permit")
        last = max((r.get("time") or "" for r in uses), default="") or "never"
        click.echo(
            f"{a['id']}  {a.get('target')}  {a.get('consumerId')}: {permits} permitted,"
            f" {len(uses) - permits} denied, last {last}"
        )
        if agreement_id is not None:
            for r in uses:
                details = r.get("details") or {}
                click.echo(
                    f"  {r.get('time')}  {r.get('decision'):<6} {details.get('operation', '')}"
                    f"  {details.get('entities', '')}".rstrip()
                )
