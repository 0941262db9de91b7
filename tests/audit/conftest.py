"""A city and a company that traded (negotiation, transfer, pulls) and the `agora audit` CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from click.testing import CliRunner

from connector.cli import main
from tests.ledger.conftest import ganache_url  # noqa: F401  (a fixture)
from tests.provenance.trade import Trade, start_trade


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trade(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Trade]:
    async with aiohttp.ClientSession() as http:
        t = await start_trade(tmp_path_factory.mktemp("audit"), http)
        try:
            yield t
        finally:
            await t.stop()


@dataclass
class Ran:
    code: int
    output: str  # stdout and stderr
    stdout: str

    @property
    def report(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.stdout)
        return found

    def kinds(self) -> set[str]:
        return {d["kind"] for d in self.report["discrepancies"]}


async def agora(*args: str) -> Ran:
    """Run `agora audit …` in a thread (it runs its own event loop; the connectors run here)."""
    runner = CliRunner()
    result = await asyncio.to_thread(runner.invoke, main, ["audit", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.output, result.stdout)
