"""``agora offering create|list|publish|retire``: manage a running connector's offerings.

The commands call the connector's management API (``/api/v1/offerings``) with its admin key, so
the connector checks the offering exactly as it checks any other client's. An offering is read
from a TOML or JSON file (amounts as decimal strings or numbers, read as Decimals, never floats)
or built from a template.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from connector.own_api import call_own_api
from marketplace.numbers import dumps, loads

RESEARCH_TERMS = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "purpose",
                    "operator": "eq",
                    "rightOperand": "https://w3id.org/dpv#AcademicResearch",
                }
            ],
        }
    ]
}
USE_TERMS = {"permission": [{"action": "use"}]}


def research_and_commercial(dataset_id: str, oid: str, name: str) -> dict[str, Any]:
    """Free for research, €49 a month for commercial use (the demo's offering)."""
    return {
        "id": oid,
        "dataset_id": dataset_id,
        "name": name,
        "plans": [
            {"plan": {"id": "research", "kind": "free"}, "terms": RESEARCH_TERMS},
            {
                "plan": {
                    "id": "commercial",
                    "kind": "recurring",
                    "price": Decimal("49.00"),
                    "currency": "EUR",
                    "period": "P1M",
                },
                "terms": USE_TERMS,
            },
        ],
    }


TEMPLATES = {"research-and-commercial": research_and_commercial}


def read_offering(path: Path) -> Any:
    """An offering document from TOML (``*.toml``) or JSON, numbers read as Decimals."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text, parse_float=Decimal)
        return loads(text)
    except ValueError as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise click.ClickException(f"{path} is not valid {kind}: {exc}") from None


def call(directory: Path, url: str | None, method: str, path: str, body: Any = None) -> Any:
    """The participant's own management API, with amounts written exactly (no floats)."""
    return call_own_api(directory, url, method, path, body, encode=dumps)


_DIR = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
_URL = click.option("--url", default=None, help="The connector's base URL (default: public_url).")


def _line(o: dict[str, Any]) -> str:
    plans = ", ".join(p["plan"]["id"] for p in o["plans"])
    return f"{o['id']}  v{o['version']}  {o['lifecycle']:<9}  {o['name']}  [{plans}]"


@click.group()
def offering() -> None:
    """Priced offerings of a running connector (draft → published → retired)."""


@offering.command("create")
@_DIR
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--template", type=click.Choice(sorted(TEMPLATES)), help="Instead of a file.")
@click.option("--dataset", "dataset_id", help="The dataset id (templates; overrides the file's).")
@click.option("--id", "oid", default=None, help="The offering id (templates).")
@click.option("--name", default="Air quality", show_default=True, help="The name (templates).")
@_URL
def create(
    directory: Path,
    file: Path | None,
    template: str | None,
    dataset_id: str | None,
    oid: str | None,
    name: str,
    url: str | None,
) -> None:
    """Create a draft offering from FILE (TOML or JSON) or --template."""
    if (file is None) == (template is None):
        raise click.UsageError("give either FILE or --template")
    if template is not None:
        if not dataset_id:
            raise click.UsageError("--template needs --dataset")
        doc = TEMPLATES[template](dataset_id, oid or "air-quality", name)
    else:
        assert file is not None
        doc = read_offering(file)
        if not isinstance(doc, dict):
            raise click.ClickException(f"{file}: an offering is an object")
        if dataset_id:
            doc["dataset_id"] = dataset_id
    created = call(directory, url, "POST", "/offerings", doc)
    click.echo(f"Created {_line(created)}")


@offering.command("list")
@_DIR
@click.option("--lifecycle", type=click.Choice(["draft", "published", "retired"]))
@_URL
def list_(directory: Path, lifecycle: str | None, url: str | None) -> None:
    """List offerings (current versions)."""
    query = f"?lifecycle={lifecycle}" if lifecycle else ""
    for o in call(directory, url, "GET", "/offerings" + query):
        click.echo(_line(o))


def _move(name: str, done: str, doc: str) -> None:
    @offering.command(name, help=doc)
    @_DIR
    @click.argument("offering_id")
    @_URL
    def command(directory: Path, offering_id: str, url: str | None) -> None:
        from urllib.parse import quote

        moved = call(directory, url, "POST", f"/offerings/{quote(offering_id, safe='')}/{name}")
        click.echo(f"{done} {_line(moved)}")


_move("publish", "Published", "Publish an offering: its plans enter the DSP catalog.")
_move("retire", "Retired", "Retire an offering: out of the catalog; agreements keep their version.")
