"""Fixtures of the ledger tests: keys, SQLite and PostgreSQL databases, a ganache node."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ledger.signing import KeySigner
from ledger.store import create_schema, drop_schema, sqlite_engine

REPO = Path(__file__).resolve().parents[2]
GANACHE = REPO / ".cache" / "evm" / "node_modules" / ".bin" / "ganache"
PG_URL = os.environ.get("LEDGER_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
INSTALL_HINT = "npm install --no-audit --no-fund --prefix .cache/evm ganache@7.9.2"


@pytest.fixture
def provider_signer() -> KeySigner:
    return KeySigner(ed25519.Ed25519PrivateKey.generate(), "did:web:city.example#ledger-1")


@pytest.fixture
def consumer_signer() -> KeySigner:
    return KeySigner(ec.generate_private_key(ec.SECP256R1()), "did:web:company.example#key-1")


@dataclass
class Db:
    """A throw-away ledger database: an engine and a unique table prefix."""

    engine: AsyncEngine
    prefix: str
    url: str
    kind: str


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    """The same test on a SQLite file (WAL) and on PostgreSQL under a fresh table prefix."""
    prefix = f"lt_{uuid.uuid4().hex[:10]}_"
    if request.param == "sqlite":
        path = tmp_path / "ledger.db"
        engine = sqlite_engine(str(path))
        url = f"sqlite+aiosqlite:///{path}"
    else:
        if not _pg_reachable():
            pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        engine = create_async_engine(PG_URL, pool_size=10)
        url = PG_URL
    await create_schema(engine, prefix)
    try:
        yield Db(engine, prefix, url, request.param)
    finally:
        if request.param == "postgres":
            await drop_schema(engine, prefix)
        await engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rpc_ready(url: str) -> bool:
    body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def ganache_url() -> Iterator[str]:
    """A ganache JSON-RPC node on a free loopback port, from .cache/evm (see INSTALL_HINT).
    ``LEDGER_EVM_URL`` points the tests at a node that is already running instead."""
    external = os.environ.get("LEDGER_EVM_URL")
    if external:
        if not _rpc_ready(external):
            pytest.fail(f"LEDGER_EVM_URL={external} does not answer JSON-RPC")
        yield external
        return
    if not GANACHE.exists():
        pytest.skip(f"ganache is not installed; install it with: {INSTALL_HINT}")
    port = _free_port()
    args = [str(GANACHE), "--server.host", "127.0.0.1", "--server.port", str(port)]
    args += ["--wallet.deterministic", "--logging.quiet"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _rpc_ready(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ganache did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def scratch_engine(path: Path) -> AsyncEngine:
    """A SQLite engine without fsync, for tests about audits rather than durability."""
    engine = sqlite_engine(str(path))

    @event.listens_for(engine.sync_engine, "connect")
    def _no_fsync(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    return engine
