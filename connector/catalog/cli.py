"""`agora catalog search|nodes`: ask the running connector's federated catalog."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import click

from connector.own_api import call_own_api
from marketplace.catalog.errors import CatalogError
from marketplace.catalog.query import near_bbox


def _call(directory: Path, url: str | None, method: str, path: str) -> Any:
    try:
        return call_own_api(directory, url, method, path)
    except click.ClickException as exc:
        if path.startswith("/catalog/") and exc.message.startswith("404: no resource"):
            raise click.ClickException(
                f"the connector of {directory} runs no federated catalog: set [catalog] enabled ="
                " true in its agora.toml (or AGORA_CATALOG_ENABLED=true) and restart it"
            ) from None
        raise


def parse_near(text: str) -> tuple[float, float, float, float]:
    """``lat,lon,5km`` (or ``…,500m``) as the search's bounding box."""
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        lat, lon, radius = float(parts[0]), float(parts[1]), parts[2].strip().lower()
        if radius.endswith("km"):
            km = float(radius[:-2])
        elif radius.endswith("m"):
            km = float(radius[:-1]) / 1000
        else:
            km = float(radius)
        return near_bbox(lat, lon, km)
    except (ValueError, CatalogError):
        raise click.BadParameter("expected LAT,LON,RADIUS such as 37.98,-1.13,5km") from None


_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The participant directory (its settings and admin key).",
)
_URL = click.option("--url", default=None, help="The connector's base URL (default: public_url).")


@click.group()
def catalog() -> None:
    """Search the federated catalog of the data space."""


@catalog.command("search")
@click.argument("text", default="")
@_DIR
@_URL
@click.option("--type", "type_", default=None, help="NGSI-LD entity type, e.g. AirQualityObserved.")
@click.option("--near", default=None, help="LAT,LON,RADIUS: datasets whose area is near.")
@click.option("--publisher", default=None, help="The publisher's DID.")
@click.option("--free/--priced", default=None, help="Only free, or only priced, datasets.")
@click.option("--price-max", default=None, help="Highest price (free ones included).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer.")
def search(
    text: str,
    directory: Path,
    url: str | None,
    type_: str | None,
    near: str | None,
    publisher: str | None,
    free: bool | None,
    price_max: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Find datasets of every member, e.g. agora catalog search "air quality"."""
    params: dict[str, str] = {"limit": str(limit)}
    if text:
        params["q"] = text
    if type_:
        params["type"] = type_
    if near:
        params["bbox"] = ",".join(f"{v:.6f}" for v in parse_near(near))
    if publisher:
        params["publisher"] = publisher
    if free is not None:
        params["free"] = "true" if free else "false"
    if price_max:
        params["price_max"] = price_max
    found = _call(directory, url, "GET", "/catalog/search?" + urllib.parse.urlencode(params))
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    click.echo(f"{found['total']} dataset(s)")
    for item in found["items"]:
        price = "free" if item["free"] else f"{item['price'] or '?'} {item['currency'] or ''}"
        types = ",".join(item["entityTypes"])
        click.echo(f"  {item['title']}  [{types}]  {price.strip()}")
        click.echo(f"    {item['datasetId']}  from {item['publisher']}")


@catalog.command("nodes")
@_DIR
@_URL
def nodes(directory: Path, url: str | None) -> None:
    """The crawled nodes: state, datasets, last success and last error."""
    found = _call(directory, url, "GET", "/catalog/nodes")
    if found.get("registryError"):
        click.echo(f"registry: {found['registryError']}")
    for n in found["nodes"]:
        click.echo(f"  {n['state']:<8} {n['datasets']:>6}  {n['did']}  {n['url']}")
        click.echo(f"           last success {n['lastSuccess'] or '-'}; {n['lastError'] or ''}")


@catalog.command("crawl")
@_DIR
@_URL
def crawl(directory: Path, url: str | None) -> None:
    """Crawl every member's catalog now (instead of at the next period)."""
    found = _call(directory, url, "POST", "/catalog/crawl")
    for n in found["nodes"]:
        error = f"  {n['lastError']}" if n.get("lastError") else ""
        click.echo(f"  {n['state']:<8} {n['datasets']:>6}  {n['did']}{error}")
    click.echo(f"crawled {len(found['nodes'])} node(s)")
