"""Three `agora serve` processes on one participant directory and one PostgreSQL database.

What a load balancer in front of replicas amounts to: one public URL (so one DID), one
database, N processes each on a port of its own. Tests talk to each replica directly.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Replicas:
    """N connector processes serving one participant; ``urls[0]`` is also the public URL."""

    directory: Path
    ports: list[int]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    def start(self, env_extra: dict[str, str] | None = None) -> None:
        public = self.urls[0]
        for port in self.ports:
            env = {
                **os.environ,
                "AGORA_LOGGING_LEVEL": "WARNING",
                "AGORA_SERVER_PORT": str(port),
                "AGORA_SERVER_PUBLIC_URL": public,
                **(env_extra or {}),
            }
            log = open(self.directory.parent / f"replica-{port}.log", "wb")
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "connector", "serve", str(self.directory)],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    async def wait_up(self, http: aiohttp.ClientSession, seconds: float = 180.0) -> None:
        async with asyncio.timeout(seconds):
            for url, proc in zip(self.urls, self.procs, strict=True):
                while True:
                    if proc.poll() is not None:
                        log = self.directory.parent / f"replica-{url.rsplit(':', 1)[1]}.log"
                        raise RuntimeError(f"replica {url} exited: {log.read_text()[-3000:]}")
                    try:
                        async with http.get(url + "/health") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.2)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
