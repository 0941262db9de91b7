"""How fast two connectors on loopback agree and start a transfer over DSP 2025-1.

One flow = a consumer-initiated contract negotiation to FINALIZED on both sides (request,
agreement, verification, finalization: four DSP messages through both outboxes) plus a PULL
transfer to STARTED (request, start). Figures, all measured in the same run:

* ``p50_ms``/``p95_ms``: one flow at a time, provider as its own ``agora serve`` process, the
  consumer in this process, every component mounted (ledger records, PEP, trust...);
* ``flows_per_s``: several flows in flight;
* ``control_plane_only_*``: both connectors in this process with only the DSP component, with
  the connector's SQLite durability (synchronous=FULL) and with synchronous=NORMAL, to show
  how much of a flow is waiting for fsync;
* the baseline: one authenticated DSP round trip (a catalog request).

Target: p50 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp

from connector import logs
from connector.config import did_web_for, load_settings
from connector.dsp.runtime import Dsp, StateChange
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector

TARGET_P50_MS = 50.0
SEQUENTIAL = 40
CONCURRENT = 60
IN_FLIGHT = 8


class Node:
    def __init__(self, connector: Connector, key: str, http: aiohttp.ClientSession) -> None:
        self.connector, self.key, self.http = connector, key, http
        self.states: dict[str, str] = {}
        self.waiters: dict[tuple[str, str], asyncio.Future[None]] = {}
        self.dsp.listeners.append(self._changed)

    @property
    def dsp(self) -> Dsp:
        assert self.connector.ctx is not None
        found: Dsp = self.connector.ctx.components["dsp"]
        return found

    def _changed(self, change: StateChange) -> None:
        self.states[change.pid] = change.state
        waiter = self.waiters.pop((change.pid, change.state), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if change.state == "TERMINATED":
            for (pid, _), w in list(self.waiters.items()):
                if pid == change.pid and not w.done():
                    w.set_exception(RuntimeError(f"{pid} terminated"))

    async def until(self, pid: str, state: str) -> None:
        """Wait for a committed state change (told by the component, no polling)."""
        if self.states.get(pid) == state:
            return
        waiter = self.waiters.setdefault((pid, state), asyncio.get_running_loop().create_future())
        await asyncio.wait_for(waiter, 20)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(
            method,
            self.connector.url + "/api/v1" + path,
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
        ) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data


async def one_flow(city_url: str, company: Node, offer: dict[str, Any], dataset: str) -> float:
    started = time.perf_counter()
    neg = await company.admin(
        "POST",
        "/negotiations",
        {
            "counterPartyAddress": city_url + "/dsp",
            "offer": offer,
            "target": dataset,
        },
    )
    # the consumer is FINALIZED only after the provider committed FINALIZED and told it so
    await company.until(neg["id"], "FINALIZED")
    agreement = (await company.admin("GET", f"/negotiations/{neg['id']}"))["agreementId"]
    tr = await company.admin(
        "POST", "/transfers", {"agreementId": agreement, "format": "NGSI-LD-PULL"}
    )
    await company.until(tr["id"], "STARTED")
    return (time.perf_counter() - started) * 1000


async def baseline(city_url: str, company: Node) -> float:
    dsp = company.dsp
    city_did = did_web_for(city_url)
    times = []
    body = {
        "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
        "@type": "CatalogRequestMessage",
    }
    for _ in range(SEQUENTIAL):
        started = time.perf_counter()
        token = await dsp.issuer.token_for(city_did)
        async with company.http.post(
            city_url + "/dsp/catalog/request",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            await resp.read()
            assert resp.status == 200
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Remote:
    """The provider seen from the benchmark: its admin API only."""

    def __init__(self, url: str, key: str, http: aiohttp.ClientSession) -> None:
        self.url, self.key, self.http = url, key, http

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(
            method,
            self.url + "/api/v1" + path,
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
        ) as resp:
            data = await resp.json(content_type=None)
            if resp.status >= 300:
                raise RuntimeError(f"{method} {path}: {resp.status} {data}")
            return data


def dsp_only(ctx: Any) -> list[Any]:
    """Only the management API and the DSP component: the control plane without the ledger,
    the NGSI-LD broker and the PEP that a full connector also runs."""
    from connector.dsp.component import DspComponent
    from connector.management.api import ManagementApi

    return [ManagementApi(), DspComponent()]


@contextlib.contextmanager
def sqlite_synchronous_normal() -> Iterator[None]:
    """SQLite with synchronous=NORMAL instead of the connector's FULL: WAL commits are no
    longer fsynced one by one (a power cut may lose the last ones; a process crash loses none).
    Measured only to show how much of a flow is spent waiting for the disk."""
    import connector.storage.engine as storage_engine

    original = storage_engine.sqlite_pragmas

    def pragmas(dbapi_conn: Any, record: Any) -> None:
        original(dbapi_conn, record)
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    storage_engine.sqlite_pragmas = pragmas
    try:
        yield
    finally:
        storage_engine.sqlite_pragmas = original


async def control_plane_only(
    root: Path, http: aiohttp.ClientSession, tag: str = "cp"
) -> list[float]:
    """Both connectors in this process, each with only the DSP component mounted."""
    import connector.runtime

    saved = connector.runtime.default_components
    connector.runtime.default_components = dsp_only
    nodes: list[Node] = []
    try:
        for name, role in ((f"city-{tag}", "city"), (f"company-{tag}", "company")):
            init_participant(
                root / name,
                name,
                role,
                port=0,
                extra_settings={"dsp": {"authentication": "self-issued"}},
                dev_mode=True,
            )
            c = Connector(load_settings(root / name, env={}))
            await c.start()
            nodes.append(Node(c, read_admin_key(root / name), http))
        city, company = nodes
        ds = await city.admin("POST", "/datasets", {"title": "AQ", "entityTypes": ["X"]})
        pol = await city.admin("POST", "/policies", {"permission": [{"action": "use"}]})
        offer = await city.admin("POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]})
        for _ in range(3):
            await one_flow(city.connector.url, company, offer["offer"], ds["id"])
        return sorted(
            [
                await one_flow(city.connector.url, company, offer["offer"], ds["id"])
                for _ in range(SEQUENTIAL)
            ]
        )
    finally:
        connector.runtime.default_components = saved
        for n in reversed(nodes):
            await n.connector.stop()


async def provider_pass(
    root: Path, http: aiohttp.ClientSession, storage: str, replicas: int
) -> dict[str, Any]:
    """Sequential and concurrent flows against the city as ``replicas`` `agora serve`
    processes (behind a round-robin proxy when more than one) on ``storage``."""
    from bench.replicas import Fleet, create_database, drop_database, migrate

    database = await create_database() if storage == "postgres" else None
    directory = root / f"city-{storage}-{replicas}"
    fleet = Fleet(directory, free_port(), replicas, {"AGORA_LOGGING_LEVEL": "ERROR"})
    init_participant(
        directory,
        "city",
        "city",
        port=fleet.public_port,
        storage_url=database,
        extra_settings={"dsp": {"authentication": "self-issued"}},
        dev_mode=True,
    )
    company_dir = root / f"company-{storage}-{replicas}"
    init_participant(
        company_dir,
        "company",
        "company",
        port=0,
        extra_settings={"dsp": {"authentication": "self-issued"}},
        dev_mode=True,
    )
    consumer = Connector(load_settings(company_dir, env={}))
    try:
        if database is not None:
            await migrate(database)
        await fleet.start()
        await fleet.wait_up(http)
        city_url = fleet.url
        city = Remote(city_url, read_admin_key(directory), http)
        await consumer.start()
        company = Node(consumer, read_admin_key(company_dir), http)
        ds = await city.admin(
            "POST", "/datasets", {"title": "AQ", "entityTypes": ["AirQualityObserved"]}
        )
        pol = await city.admin("POST", "/policies", {"permission": [{"action": "use"}]})
        offer = await city.admin("POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]})

        async def flow() -> float:
            return await one_flow(city_url, company, offer["offer"], ds["id"])

        for _ in range(3):  # warm-up: DID resolution, connection pools
            await flow()
        base = await baseline(city_url, company)
        own_before, city_before = time.process_time(), fleet.cpu_seconds()
        lat = [await flow() for _ in range(SEQUENTIAL)]
        city_cpu_ms = (fleet.cpu_seconds() - city_before) * 1000
        both_cpu_ms = city_cpu_ms + (time.process_time() - own_before) * 1000

        sem = asyncio.Semaphore(IN_FLIGHT)

        async def bounded() -> float:
            async with sem:
                return await flow()

        city_before = fleet.cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(bounded() for _ in range(CONCURRENT)))
        elapsed = time.perf_counter() - started
        concurrent_cpu_ms = (fleet.cpu_seconds() - city_before) * 1000
    finally:
        await consumer.stop()
        await fleet.stop()
        if database is not None:
            await drop_database(database)
    lat.sort()
    return {
        "storage": storage,
        "replicas": replicas,
        "lat": lat,
        "base": base,
        "cpu_ms_per_flow_both_sides": round(both_cpu_ms / SEQUENTIAL, 1),
        # the provider's CPU per flow (summed over its replicas): what a flow costs the server
        "server_cpu_ms_per_flow": round(city_cpu_ms / SEQUENTIAL, 2),
        "server_cpu_ms_per_flow_concurrent": round(concurrent_cpu_ms / CONCURRENT, 2),
        "flows_per_s": round(CONCURRENT / elapsed, 1),
    }


async def main(storage: str = "sqlite", replicas: int = 0) -> dict[str, Any]:
    logs.configure("ERROR", json_format=True)
    with tempfile.TemporaryDirectory(prefix="bench-dsp-") as tmp:
        root = Path(tmp)
        async with aiohttp.ClientSession() as http:
            sqlite = await provider_pass(root, http, "sqlite", 1)
            others = []
            if storage == "postgres":
                others.append(await provider_pass(root, http, "postgres", max(replicas, 1)))
            control = await control_plane_only(root, http)
            with sqlite_synchronous_normal():
                relaxed = await control_plane_only(root, http, "normal")
    first = others[0] if others and not replicas else sqlite
    lat, base = first["lat"], first["base"]
    p50 = statistics.median(lat)
    p95 = lat[int(0.95 * (len(lat) - 1))]
    out: dict[str, Any] = {
        "bench": "dsp",
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "flow": "negotiation to FINALIZED + PULL transfer to STARTED",
        "setup": f"provider `agora serve` process + consumer in-process, loopback, "
        f"{first['storage']}",
        "auth": "self-issued DCP ID tokens",
        "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        "p50_ms": round(p50, 2),
        "p95_ms": round(p95, 2),
        "cpu_ms_per_flow_both_sides": first["cpu_ms_per_flow_both_sides"],
        "server_cpu_ms_per_flow": first["server_cpu_ms_per_flow"],
        "control_plane_only_p50_ms": round(statistics.median(control), 2),
        "control_plane_only_p95_ms": round(control[int(0.95 * (len(control) - 1))], 2),
        "control_plane_only_sqlite_sync_normal_p50_ms": round(statistics.median(relaxed), 2),
        "flows_per_s": first["flows_per_s"],
        "in_flight": IN_FLIGHT,
        "baseline_catalog_roundtrip_p50_ms": round(base, 2),
        "target_p50_ms": TARGET_P50_MS,
        "ratio_p50_to_target": round(p50 / TARGET_P50_MS, 3),
        "ratio_p50_to_baseline": round(p50 / base, 2),
        "meets_target": p50 <= TARGET_P50_MS,
    }
    if replicas and others:
        from bench.replicas import TARGET_CPU_RATIO

        pg = others[0]

        def summary(r: dict[str, Any]) -> dict[str, Any]:
            return {
                "storage": r["storage"],
                "replicas": r["replicas"],
                "p50_ms": round(statistics.median(r["lat"]), 2),
                "flows_per_s": r["flows_per_s"],
                "server_cpu_ms_per_flow": r["server_cpu_ms_per_flow"],
                "server_cpu_ms_per_flow_concurrent": r["server_cpu_ms_per_flow_concurrent"],
            }

        ratio = round(pg["server_cpu_ms_per_flow"] / max(sqlite["server_cpu_ms_per_flow"], 1e-9), 3)
        ratio_c = round(
            pg["server_cpu_ms_per_flow_concurrent"]
            / max(sqlite["server_cpu_ms_per_flow_concurrent"], 1e-9),
            3,
        )
        out["replicas"] = {
            "sqlite": summary(sqlite),
            "postgres": summary(pg),
            "server_cpu_postgres_vs_sqlite": {"sequential": ratio, "concurrent": ratio_c},
            "target_cpu_ratio": TARGET_CPU_RATIO,
            "cpu_met": max(ratio, ratio_c) <= TARGET_CPU_RATIO,
        }
    return out


if __name__ == "__main__":
    from connector.cli import loop_factory

    # the consumer runs in this process: on the event loop `agora serve` would give it
    parser = argparse.ArgumentParser(prog="python -m bench.dsp")
    parser.add_argument("--storage", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="PostgreSQL: the provider as N processes behind a round-robin proxy, compared "
        "with the SQLite pass of the same run (per-flow server CPU)",
    )
    args = parser.parse_args()
    if args.replicas > 1 and args.storage != "postgres":
        parser.error("--replicas needs --storage postgres (replicas share one database)")
    with asyncio.Runner(loop_factory=loop_factory("uvloop")) as runner:
        result = runner.run(main(args.storage, args.replicas))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
