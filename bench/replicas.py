"""Connector replicas for the benchmarks: N `agora serve` on one PostgreSQL behind a proxy.

``--storage postgres --replicas N`` in ``bench.ngsild``, ``bench.dsp`` and ``bench.enforcement``
runs the participant as N processes sharing one database (created for the run, dropped after),
behind :class:`RoundRobinProxy`, a small load balancer in this process that hands each request
to the next replica. Every replica's ``public_url`` is the proxy's, as behind a real balancer.
The server CPU a run reports is the sum over the replicas (and their children), so the price of
spreading the work is in the figure; the proxy's CPU is the balancer's, not counted.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.cpu import cpu_seconds

#: headers of one hop, never forwarded (RFC 9110 §7.6.1), and those aiohttp sets itself
HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
TARGET_CPU_RATIO = 1.3  # per-request server CPU on PostgreSQL at most 1.3x SQLite's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_server() -> tuple[str, str, int]:
    server = os.environ.get("AGORA_BENCH_PG", "postgres@127.0.0.1:5432")
    user, _, hostport = server.partition("@")
    host, _, port = hostport.partition(":")
    return user, host, int(port or 5432)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    user, host, port = _pg_server()
    conn = await asyncpg.connect(host=host, port=port, user=user, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database() -> str:
    """A fresh PostgreSQL database (``AGORA_BENCH_PG``, default the test server)."""
    user, host, port = _pg_server()
    name = f"agora_bench_{uuid.uuid4().hex[:10]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://{user}@{host}:{port}/{name}"


async def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[-1]
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def migrate(url: str) -> None:
    """Bring the schema up once, so that N replicas starting together only start."""
    from connector.storage import create_engine, upgrade

    engine = create_engine(url, pool_size=1)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


class RoundRobinProxy:
    """A load balancer on loopback: each request to the next backend, bodies and headers
    passed through as they are (compressed answers stay compressed)."""

    def __init__(self, backends: list[str], port: int) -> None:
        self.backends = backends
        self.port = port
        self._next = itertools.cycle(range(len(backends)))
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._http is not None
        backend = self.backends[next(self._next)]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        body = await request.read()
        async with self._http.request(
            request.method,
            backend + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as answer:
            payload = await answer.read()
            out = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP]
            response = web.Response(status=answer.status, body=payload)
            for k, v in out:
                response.headers.add(k, v)
            return response

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(
            auto_decompress=False,
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=300),
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()


@dataclass
class Fleet:
    """One participant served by ``len(ports)`` processes; with more than one, behind a proxy
    on ``public_port`` (the participant's URL); with one, that process on ``public_port``."""

    directory: Path
    public_port: int
    replicas: int = 1
    env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    proxy: RoundRobinProxy | None = None
    ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.public_port}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids)

    async def start(self, profile: list[str] | None = None) -> None:
        if self.replicas == 1:
            self.ports = [self.public_port]
        else:
            self.ports = [free_port() for _ in range(self.replicas)]
            self.proxy = RoundRobinProxy(
                [f"http://127.0.0.1:{p}" for p in self.ports], self.public_port
            )
            await self.proxy.start()
        for port in self.ports:
            self.procs.append(self._spawn(port, profile or []))

    def _spawn(self, port: int, profile: list[str]) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "AGORA_LOGGING_LEVEL": "WARNING",
            "AGORA_SERVER_PORT": str(port),
            "AGORA_SERVER_PUBLIC_URL": self.url,
            **self.env,
        }
        log = os.environ.get("AGORA_BENCH_SERVER_LOG", os.devnull)
        with open(log, "ab") as err:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                [sys.executable, *profile, "-m", "connector", "serve", str(self.directory)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    async def wait_up(self, http: aiohttp.ClientSession, seconds: float = 300.0) -> None:
        async with asyncio.timeout(seconds):
            for port, proc in zip(self.ports, self.procs, strict=True):
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"the connector on port {port} exited")
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/health") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)

    async def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self.proxy is not None:
            await self.proxy.stop()
