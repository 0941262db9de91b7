from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.dsp.helpers import Node, start_node


@pytest.fixture
async def market(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    """(city, company): the city sells on account to the company (its invoice account); the
    city stores on each engine in turn."""
    async with aiohttp.ClientSession() as http:
        company = await start_node(tmp_path, "company", "company", http=http)
        city = await start_node(
            tmp_path,
            "city",
            "city",
            storage_url=db_url,
            http=http,
            extra={"marketplace": {"invoice_accounts": [company.did]}},
        )
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()


@pytest.fixture
async def overdue_market(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    """(city, company) where an amount is due the moment the agreement starts, with no grace:
    an unpaid agreement is suspended at once."""
    async with aiohttp.ClientSession() as http:
        company = await start_node(tmp_path, "company", "company", http=http)
        city = await start_node(
            tmp_path,
            "city",
            "city",
            storage_url=db_url,
            http=http,
            extra={
                "marketplace": {
                    "invoice_accounts": [company.did],
                    "invoice_due_days": 0,
                    "invoice_grace_days": 0,
                }
            },
        )
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()


@pytest.fixture
async def evm_market(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    """(city, company) paying in advance in the demo token on the process's embedded chain: the
    company's account 0 holds the supply, the city is paid on account 1."""
    async with aiohttp.ClientSession() as http:
        evm = {"evm_chain": "embedded"}
        company = await start_node(
            tmp_path,
            "company",
            "company",
            http=http,
            extra={"marketplace": {**evm, "evm_account": "embedded:0"}},
        )
        city = await start_node(
            tmp_path,
            "city",
            "city",
            storage_url=db_url,
            http=http,
            extra={"marketplace": {**evm, "evm_account": "embedded:1"}},
        )
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()
