"""``agora offering`` against a running connector."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from connector.cli import main
from tests.dsp.helpers import Node
from tests.market.helpers import dataset

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOML = """
id = "noise"
dataset_id = "{ds}"
name = "Noise levels"

[[plans]]
terms = {{ permission = [{{ action = "use" }}] }}
[plans.plan]
id = "monthly"
kind = "recurring"
price = 12.50
period = "P1M"
"""


async def agora(node: Node, *args: str) -> Result:
    directory = str(node.connector.settings.directory)
    argv = ["offering", args[0], directory, *args[1:], "--url", node.url]
    return await asyncio.to_thread(CliRunner().invoke, main, argv)


async def test_create_publish_list_retire(market: tuple[Node, Node], tmp_path: Path) -> None:
    city, _ = market
    ds = await dataset(city)
    file = tmp_path / "noise.toml"
    file.write_text(TOML.format(ds=ds))
    result = await agora(city, "create", str(file))
    assert result.exit_code == 0, result.output
    assert "noise  v1  draft" in result.output
    result = await agora(city, "create", "--template", "research-and-commercial", "--dataset", ds)
    assert result.exit_code == 0, result.output
    result = await agora(city, "publish", "noise")
    assert result.exit_code == 0 and "Published noise  v1  published" in result.output
    result = await agora(city, "list", "--lifecycle", "published")
    assert result.output.splitlines() == ["noise  v1  published  Noise levels  [monthly]"]
    status, body = await city.admin("GET", "/offerings/noise")
    assert status == 200
    assert body["plans"][0]["plan"]["price"] == "12.50"  # the TOML float read exactly
    result = await agora(city, "retire", "noise")
    assert result.exit_code == 0 and "Retired noise  v1  retired" in result.output


async def test_bad_offering_file_is_refused(market: tuple[Node, Node], tmp_path: Path) -> None:
    city, _ = market
    ds = await dataset(city)
    file = tmp_path / "bad.toml"
    file.write_text(TOML.format(ds=ds).replace("12.50", '"-12.50"'))
    result = await agora(city, "create", str(file))
    assert result.exit_code != 0 and "400" in result.output and "price" in result.output
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    result = await agora(city, "create", str(broken))
    assert result.exit_code != 0 and "not valid JSON" in result.output
    assert (await city.admin("GET", "/offerings"))[1] == []
