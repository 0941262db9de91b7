from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.dsp.helpers import Node, start_node
from tests.ledger import conftest as ledger_fixtures


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


#: the ganache node of the ledger tests (skips when ganache is not installed)
ganache_url = ledger_fixtures.ganache_url


@pytest.fixture
async def ganache_market(ganache_url: str, tmp_path: Path) -> AsyncIterator[tuple[Node, Node, str]]:
    """(city, company, token address) paying on a ganache node: a fresh token per test,
    ganache's deterministic account 0 pays, account 1 is paid."""
    from connector.market.payments.evm import deploy_token
    from ledger.anchor import http_web3

    w3 = http_web3(ganache_url)
    accounts: list[str] = list(w3.eth.accounts)
    token = deploy_token(w3, accounts[0], "Agora Euro", "aEUR", 2, 10**12)
    evm = {"evm_chain": ganache_url, "evm_token": token}
    async with aiohttp.ClientSession() as http:
        company = await start_node(
            tmp_path,
            "company",
            "company",
            http=http,
            extra={"marketplace": {**evm, "evm_account": accounts[0]}},
        )
        city = await start_node(
            tmp_path,
            "city",
            "city",
            http=http,
            extra={"marketplace": {**evm, "evm_account": accounts[1]}},
        )
        try:
            yield city, company, token
        finally:
            await company.connector.stop()
            await city.connector.stop()
