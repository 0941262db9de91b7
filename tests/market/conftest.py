"""Connectors of the marketplace tests: started once per module and storage engine.

Starting a pair of connectors is most of what a marketplace test costs, so each configuration
(on account, overdue at once, prepaid through evm) runs once per module and engine, and each
test gets it with the city's catalog and marketplace tables emptied (datasets and their offers,
offerings, payments, usage): a test still starts from a city that publishes nothing, sells
nothing and was paid nothing. Negotiations and agreements have fresh ids; the tests look only
at their own.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy import delete

from connector.dsp.tables import datasets, offers, policies
from connector.market.tables import offerings, payments, usage
from tests.conftest import PG_HOST, PG_PORT, PG_USER, _admin_execute, _require_postgres
from tests.dsp.helpers import Node, start_node
from tests.ledger import conftest as ledger_fixtures

Pair = tuple[Node, Node]
MODULE: Any = {"scope": "module", "loop_scope": "module"}


@pytest_asyncio.fixture(params=["sqlite", "postgres"], **MODULE)
async def city_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """Where the city stores, on each engine in turn (one database per module and engine;
    each configuration's city takes its own file or schema-free database)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    _require_postgres()
    yield "postgres"


@pytest_asyncio.fixture(**MODULE)
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _database(kind: str, root: Path) -> tuple[str, str | None]:
    """(storage URL, the PostgreSQL database to drop afterwards)."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{root / 'city.db'}", None
    name = f"agora_t_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}", name


async def _pair(
    kind: str,
    root: Path,
    http: aiohttp.ClientSession,
    city: dict[str, Any],
    company: dict[str, Any] | None = None,
    company_did_in: str | None = None,
) -> AsyncIterator[Pair]:
    """(city, company); ``company_did_in`` names the city setting that gets the company's DID."""
    url, drop = await _database(kind, root)
    buyer = await start_node(
        root, "company", "company", http=http, extra={"marketplace": company or {}}
    )
    settings = dict(city)
    if company_did_in is not None:
        settings[company_did_in] = [buyer.did]
    seller = await start_node(
        root, "city", "city", storage_url=url, http=http, extra={"marketplace": settings}
    )
    try:
        yield seller, buyer
    finally:
        await buyer.connector.stop()
        await seller.connector.stop()
        if drop is not None:
            await _admin_execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')


async def fresh(pair: Pair) -> Pair:
    """The pair with the city's marketplace tables emptied (see the module docstring)."""
    city, _ = pair
    assert city.connector.ctx is not None
    async with city.connector.ctx.db.begin() as conn:
        for table in (usage, payments, offerings, offers, policies, datasets):
            await conn.execute(delete(table))
    return pair


@pytest_asyncio.fixture(**MODULE)
async def _on_account(
    city_db: str, tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession
) -> AsyncIterator[Pair]:
    root = Path(tmp_path_factory.mktemp("market"))
    async for pair in _pair(city_db, root, http, {}, company_did_in="invoice_accounts"):
        yield pair


@pytest_asyncio.fixture(loop_scope="module")
async def market(_on_account: Pair) -> Pair:
    """(city, company): the city sells on account to the company (its invoice account); the
    city stores on each engine in turn."""
    return await fresh(_on_account)


@pytest_asyncio.fixture(**MODULE)
async def _overdue(
    city_db: str, tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession
) -> AsyncIterator[Pair]:
    root = Path(tmp_path_factory.mktemp("overdue"))
    terms = {"invoice_due_days": 0, "invoice_grace_days": 0}
    async for pair in _pair(city_db, root, http, terms, company_did_in="invoice_accounts"):
        yield pair


@pytest_asyncio.fixture(loop_scope="module")
async def overdue_market(_overdue: Pair) -> Pair:
    """(city, company) where an amount is due the moment the agreement starts, with no grace:
    an unpaid agreement is suspended at once."""
    return await fresh(_overdue)


@pytest_asyncio.fixture(**MODULE)
async def _prepaid(
    city_db: str, tmp_path_factory: pytest.TempPathFactory, http: aiohttp.ClientSession
) -> AsyncIterator[Pair]:
    root = Path(tmp_path_factory.mktemp("evm"))
    evm = {"evm_chain": "embedded"}
    async for pair in _pair(
        city_db,
        root,
        http,
        {**evm, "evm_account": "embedded:1"},
        {**evm, "evm_account": "embedded:0"},
    ):
        yield pair


@pytest_asyncio.fixture(loop_scope="module")
async def evm_market(_prepaid: Pair) -> Pair:
    """(city, company) paying in advance in the demo token on the process's embedded chain: the
    company's account 0 holds the supply, the city is paid on account 1."""
    return await fresh(_prepaid)


#: the ganache node of the ledger tests (skips when ganache is not installed)
ganache_url = ledger_fixtures.ganache_url


@pytest_asyncio.fixture(loop_scope="module")
async def ganache_market(
    ganache_url: str, tmp_path: Path, http: aiohttp.ClientSession
) -> AsyncIterator[tuple[Node, Node, str]]:
    """(city, company, token address) paying on a ganache node: a fresh token per test,
    ganache's deterministic account 0 pays, account 1 is paid."""
    from connector.market.payments.evm import deploy_token
    from ledger.anchor import http_web3

    w3 = http_web3(ganache_url)
    accounts: list[str] = list(w3.eth.accounts)
    token = deploy_token(w3, accounts[0], "Agora Euro", "aEUR", 2, 10**12)
    evm = {"evm_chain": ganache_url, "evm_token": token}
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
