"""NGSI-LD broker benchmark over HTTP on loopback, printing one JSON object.

A real connector (SQLite in a temporary directory, logging at WARNING) runs in a child process;
this process is the client, with ``--concurrency`` aiohttp requests in flight. Phases:

1. create single entities (POST /entities) for ``--seconds`` s: req/s and p95;
2. create the rest in batches of 1,000 (POST /entityOperations/create): entities/s;
3. retrieve by id (GET /entities/{id}), 4. query by type + q, 5. geo-query near a point,
   each for ``--seconds`` s: req/s and p95.

The baseline is the published Stellio run the issue names (JVM, 8 vCPU, 2024): 130-240 creates/s
and 30-36 type+q queries/s with p95 0.17-1.4 s. The target is 5x the best of those figures.
Stellio's load tests create entities of 6 properties (some multi-instance), 1 relationship and 1
geolocation, and its best create figure (241/s, p95 297 ms) came with 50 virtual users; the
entities here have that shape and single creates run with ``--create-concurrency`` 50 clients
(the other phases with ``--concurrency``).
Latency is judged at five times the baseline's best query load (180 type+q queries/s offered at
a steady rate, open loop): p95 there must be at most a fifth of 0.17 s. The closed-loop phases
saturate the server, where p95 only reflects how many clients wait in line; it is reported as
``query_p95_improvement_saturated`` for information.

Besides wall-clock throughput and latency, every phase reports the server process's CPU time per
request (from /proc) and the throughput one server core sustains at that cost, with the
ratios to the baseline computed both ways: on a machine shared with other work (see
``load_average_before_after``) the wall-clock figures measure the neighbours as much as Agora.
Options: ``--entities N`` (default 100,000), ``--seconds S`` (default 10), ``--concurrency C``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp

from bench.cpu import cpu_seconds

BASELINE = {
    "source": "published Stellio benchmark (JVM, 8 vCPU, 2024), as named in issue 3",
    "create_per_s": [130, 240],
    "query_type_q_per_s": [30, 36],
    "query_p95_s": [0.17, 1.4],
}
TARGET_FACTOR = 5
BASE = "/ngsi-ld/v1"
BOX = (-1.30, 37.85, -0.95, 38.10)  # around Murcia


def entity(i: int, rng: random.Random) -> dict[str, Any]:
    """A city entity shaped like the baseline's template (6 properties, some of them
    multi-instance, 1 relationship, 1 geolocation); a quarter each parking spots and waste
    containers, half air-quality stations (the ones the queries look for)."""
    lon = rng.uniform(BOX[0], BOX[2])
    lat = rng.uniform(BOX[1], BOX[3])
    kind = i % 4
    loc = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
    eid = entity_id(i)
    device = {"type": "Relationship", "object": f"urn:ngsi-ld:Device:{i % 2000}"}
    if kind < 2:
        return {
            "id": eid,
            "type": "AirQualityObserved",
            "NO2": {
                "type": "Property",
                "value": rng.randint(0, 100),
                "unitCode": "GQ",
                "observedAt": "2025-03-04T10:00:00Z",
            },
            "PM10": {"type": "Property", "value": rng.randint(0, 80), "unitCode": "GQ"},
            "temperature": [  # multi-instance: two sensors on one station
                {"type": "Property", "value": rng.randint(5, 35), "datasetId": "urn:sensor:a"},
                {"type": "Property", "value": rng.randint(5, 35), "datasetId": "urn:sensor:b"},
            ],
            "relativeHumidity": {"type": "Property", "value": round(rng.random(), 2)},
            "reliability": {"type": "Property", "value": 0.9},
            "name": {"type": "Property", "value": f"station {i}"},
            "refDevice": device,
            "location": loc,
        }
    common = {
        "name": {"type": "Property", "value": f"asset {i}"},
        "description": {"type": "Property", "value": "city asset"},
        "dataProvider": {"type": "Property", "value": "city of Murcia"},
        "serviceStatus": [  # multi-instance: two maintenance feeds
            {"type": "Property", "value": "ok", "datasetId": "urn:feed:a"},
            {"type": "Property", "value": "ok", "datasetId": "urn:feed:b"},
        ],
    }
    if kind == 2:
        return {
            "id": eid,
            "type": "ParkingSpot",
            "status": {"type": "Property", "value": rng.choice(["free", "occupied"])},
            "category": {"type": "Property", "value": "onStreet"},
            **common,
            "refParkingSite": {
                "type": "Relationship",
                "object": f"urn:ngsi-ld:ParkingSite:{i % 500}",
            },
            "location": loc,
        }
    return {
        "id": eid,
        "type": "WasteContainer",
        "fillingLevel": {"type": "Property", "value": round(rng.random(), 2)},
        "wasteType": {"type": "Property", "value": "organic"},
        **common,
        "refDevice": device,
        "location": loc,
    }


def p95(samples: list[float]) -> float:
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def paced_load(
    rate: float, seconds: float, make: Callable[[int], Awaitable[None]]
) -> dict[str, float]:
    """Open loop: start ``make(n)`` at a fixed ``rate`` per second whatever the answers do, and
    time each from when it was due (so falling behind shows as latency, not as a lower rate)."""
    latencies: list[float] = []
    started = time.perf_counter()
    cpu0 = server_cpu()
    total = int(rate * seconds)

    async def one(n: int, due: float) -> None:
        await make(n)
        latencies.append(time.perf_counter() - due)

    tasks = []
    for n in range(total):
        due = started + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(n, due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    cpu_ms = (server_cpu() - cpu0) * 1000 / max(len(latencies), 1)
    return {
        "offered_per_s": rate,
        "server_cpu_ms_per_request": round(cpu_ms, 3),
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p95_s": round(p95(latencies), 4),
        "p50_s": round(statistics.median(latencies), 4) if latencies else 0.0,
    }


async def timed_load(
    concurrency: int,
    seconds: float,
    make: Callable[[int], Awaitable[None]],
    limit: int | None = None,
) -> dict[str, float]:
    """Run ``make(n)`` from ``concurrency`` workers for ``seconds`` (or ``limit`` calls)."""
    latencies: list[float] = []
    counter = 0
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    cpu0 = server_cpu()

    async def worker() -> None:
        nonlocal counter
        while time.perf_counter() < deadline and (limit is None or counter < limit):
            n = counter
            counter += 1
            t0 = time.perf_counter()
            await make(n)
            latencies.append(time.perf_counter() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    cpu_ms = (server_cpu() - cpu0) * 1000 / max(len(latencies), 1)
    return {
        "server_cpu_ms_per_request": round(cpu_ms, 3),
        "per_server_core_per_s": round(1000 / cpu_ms, 1) if cpu_ms > 0 else 0.0,
        "requests": len(latencies),
        "per_s": round(len(latencies) / elapsed, 1),
        "p95_s": round(p95(latencies), 4),
        "p50_s": round(sorted(latencies)[len(latencies) // 2], 4) if latencies else 0.0,
    }


#: the server's processes (one, or the replicas): their CPU is the server's
SERVER_PIDS: list[int] = []


def server_cpu() -> float:
    return sum(cpu_seconds(pid) for pid in SERVER_PIDS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def wait_up(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(url + "/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the connector did not come up")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.replicas import Fleet, create_database, drop_database, migrate
    from connector.participant import init_participant, read_admin_key

    rng = random.Random(7)
    load_before = round(os.getloadavg()[0], 2)
    storage, replicas = getattr(args, "storage", "sqlite"), max(getattr(args, "replicas", 1), 1)
    database = await create_database() if storage == "postgres" else None
    with tempfile.TemporaryDirectory(prefix="agora-bench-ngsild-") as tmp:
        directory = Path(tmp) / "city"
        server = Fleet(
            directory, free_port(), replicas, {"AGORA_SERVER_MAX_BODY_BYTES": "16777216"}
        )
        init_participant(
            directory,
            "Bench City",
            "city",
            port=server.public_port,
            storage_url=database,
            dev_mode=True,
        )
        if database is not None:
            await migrate(database)
        # AGORA_BENCH_PROFILE=file: run the server under cProfile (written when it stops)
        out = os.environ.get("AGORA_BENCH_PROFILE")
        await server.start(profile=["-m", "cProfile", "-o", out] if out else None)
        SERVER_PIDS[:] = server.pids
        url = server.url
        key = read_admin_key(directory)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn = aiohttp.TCPConnector(limit=max(args.concurrency, args.create_concurrency) * 2)
        try:
            async with aiohttp.ClientSession(connector=conn) as http:
                await server.wait_up(http)
                results: dict[str, Any] = {}
                created = 0

                async def create_one(n: int) -> None:
                    body = json.dumps(entity(n, rng))
                    async with http.post(url + BASE + "/entities", data=body, headers=headers) as r:
                        if r.status != 201:
                            raise RuntimeError(f"create answered {r.status}: {await r.text()}")

                single_cap = max(0, min(args.entities // 2, 50_000))
                results["create_single"] = await timed_load(
                    args.create_concurrency, args.seconds, create_one, limit=single_cap
                )
                created = int(results["create_single"]["requests"])
                print(f"create_single: {results['create_single']}", file=sys.stderr)

                batch_size = 1000
                t0 = time.perf_counter()
                cpu0 = server_cpu()
                batch_count = 0

                async def create_batch(start: int) -> None:
                    nonlocal batch_count
                    stop = min(start + batch_size, args.entities)
                    body = json.dumps([entity(i, rng) for i in range(start, stop)])
                    async with http.post(
                        url + BASE + "/entityOperations/create", data=body, headers=headers
                    ) as r:
                        if r.status != 201:
                            raise RuntimeError(f"batch answered {r.status}: {await r.text()}")
                    batch_count += stop - start

                starts = list(range(created, args.entities, batch_size))
                sem = asyncio.Semaphore(4)

                async def guarded(start: int) -> None:
                    async with sem:
                        await create_batch(start)

                await asyncio.gather(*(guarded(s) for s in starts))
                elapsed = time.perf_counter() - t0
                batch_cpu = server_cpu() - cpu0
                results["create_batch"] = {
                    "server_cpu_ms_per_entity": round(batch_cpu * 1000 / max(batch_count, 1), 3),
                    "entities": batch_count,
                    "batch_size": batch_size,
                    "entities_per_s": round(batch_count / elapsed, 1) if elapsed else 0.0,
                }
                total = args.entities
                get_headers = {"Authorization": f"Bearer {key}"}

                async def retrieve(n: int) -> None:
                    i = rng.randrange(total)
                    eid = entity_id(i)
                    async with http.get(url + BASE + "/entities/" + eid, headers=get_headers) as r:
                        if r.status != 200:
                            raise RuntimeError(f"retrieve answered {r.status}")
                        await r.read()

                results["retrieve_by_id"] = await timed_load(
                    args.concurrency, args.seconds, retrieve
                )

                async def query(n: int) -> None:
                    low = rng.randint(30, 90)
                    params = {"type": "AirQualityObserved", "q": f"NO2>{low};PM10<50"}
                    async with http.get(
                        url + BASE + "/entities", params=params, headers=get_headers
                    ) as r:
                        if r.status != 200:
                            raise RuntimeError(f"query answered {r.status}: {await r.text()}")
                        await r.read()

                results["query_type_q"] = await timed_load(args.concurrency, args.seconds, query)
                # latency at five times the baseline's best query load, offered at a steady
                # rate: the closed loop above saturates the server, so its p95 is set by the
                # number of clients rather than by how fast one answer comes
                rate = TARGET_FACTOR * max(BASELINE["query_type_q_per_s"])
                results["query_type_q_paced"] = await paced_load(rate, args.seconds, query)

                async def geo(n: int) -> None:
                    lon = rng.uniform(BOX[0], BOX[2])
                    lat = rng.uniform(BOX[1], BOX[3])
                    params = {
                        "type": "AirQualityObserved",
                        "georel": "near;maxDistance==1000",
                        "geometry": "Point",
                        "coordinates": f"[{lon:.5f},{lat:.5f}]",
                    }
                    async with http.get(
                        url + BASE + "/entities", params=params, headers=get_headers
                    ) as r:
                        if r.status != 200:
                            raise RuntimeError(f"geo answered {r.status}: {await r.text()}")
                        await r.read()

                results["geo_query"] = await timed_load(args.concurrency, args.seconds, geo)
        finally:
            await server.stop()
            if database is not None:
                await drop_database(database)
    best_create = max(BASELINE["create_per_s"])
    best_query = max(BASELINE["query_type_q_per_s"])
    best_p95 = min(BASELINE["query_p95_s"])
    single, batch, query = (
        results["create_single"],
        results["create_batch"],
        results["query_type_q"],
    )
    ratios = {
        "create_single_vs_best_baseline": round(single["per_s"] / best_create, 2),
        "create_batch_vs_best_baseline": round(batch["entities_per_s"] / best_create, 2),
        "query_type_q_vs_best_baseline": round(query["per_s"] / best_query, 2),
        "query_p95_improvement_vs_best_baseline_at_5x_its_load": round(
            best_p95 / max(results["query_type_q_paced"]["p95_s"], 1e-6), 2
        ),
    }
    # informative: p95 with the server saturated by --concurrency clients (not a target figure)
    saturated_p95 = round(best_p95 / max(query["p95_s"], 1e-6), 2)
    # The same figures normalized by the server's CPU time: what one server core sustains.
    # They stay meaningful when other work shares the machine (see load_average).
    batch_capacity = 1000 / batch["server_cpu_ms_per_entity"] if batch["entities"] else 0.0
    ratios_per_core = {
        "create_single_vs_best_baseline": round(single["per_server_core_per_s"] / best_create, 2),
        "create_batch_vs_best_baseline": round(batch_capacity / best_create, 2),
        "query_type_q_vs_best_baseline": round(query["per_server_core_per_s"] / best_query, 2),
    }
    return {
        "benchmark": "ngsild",
        "entities": args.entities,
        "engine": "sqlite (WAL, synchronous=FULL)"
        if storage == "sqlite"
        else f"postgresql, {replicas} replica(s) behind a round-robin proxy",
        "concurrency": args.concurrency,
        "create_concurrency": args.create_concurrency,
        "seconds_per_phase": args.seconds,
        "cpus": os.cpu_count(),
        "load_average_before_after": [load_before, round(os.getloadavg()[0], 2)],
        "results": results,
        "baseline": BASELINE,
        "target": f">= {TARGET_FACTOR}x the best baseline figure (throughput up, p95 down)",
        "ratios": ratios,
        "query_p95_improvement_saturated": saturated_p95,
        "ratios_per_server_core": ratios_per_core,
        "target_met": all(v >= TARGET_FACTOR for v in ratios.values()),
        "target_met_per_server_core": all(v >= TARGET_FACTOR for v in ratios_per_core.values()),
    }


def entity_id(i: int) -> str:
    kind = i % 4
    name = "AirQualityObserved" if kind < 2 else "ParkingSpot" if kind == 2 else "WasteContainer"
    return f"urn:ngsi-ld:{name}:{i:07d}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ngsild")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--create-concurrency",
        type=int,
        default=50,
        help="clients creating at once (default 50: the baseline's best create figure)",
    )
    parser.add_argument("--storage", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--replicas",
        type=int,
        default=0,
        help="PostgreSQL: the server as N processes behind a round-robin proxy, and a SQLite "
        "pass in the same run to compare per-request server CPU with",
    )
    args = parser.parse_args()
    if args.replicas > 1 and args.storage != "postgres":
        parser.error("--replicas needs --storage postgres (replicas share one database)")
    if args.replicas and args.storage == "postgres":
        print(json.dumps(asyncio.run(compare(args)), indent=2))
    else:
        print(json.dumps(asyncio.run(run(args)), indent=2))


PHASES = ("create_single", "retrieve_by_id", "query_type_q", "query_type_q_paced", "geo_query")


async def compare(args: argparse.Namespace) -> dict[str, Any]:
    """A SQLite pass (one process), then PostgreSQL with ``--replicas`` processes, in one run:
    the per-request server CPU of each phase side by side."""
    from bench.replicas import TARGET_CPU_RATIO

    sqlite = await run(argparse.Namespace(**{**vars(args), "storage": "sqlite", "replicas": 1}))
    postgres = await run(args)
    cpu: dict[str, Any] = {}
    for phase in PHASES:
        a = sqlite["results"][phase]["server_cpu_ms_per_request"]
        b = postgres["results"][phase]["server_cpu_ms_per_request"]
        cpu[phase] = {"sqlite": a, "postgres": b, "ratio": round(b / a, 3) if a else None}
    a = sqlite["results"]["create_batch"]["server_cpu_ms_per_entity"]
    b = postgres["results"]["create_batch"]["server_cpu_ms_per_entity"]
    cpu["create_batch_per_entity"] = {
        "sqlite": a,
        "postgres": b,
        "ratio": round(b / a, 3) if a else None,
    }
    ratios = [v["ratio"] for v in cpu.values() if v["ratio"] is not None]
    return {
        "benchmark": "ngsild, SQLite vs PostgreSQL replicas",
        "replicas": args.replicas,
        "server_cpu_ms_per_request": cpu,
        "target_cpu_ratio": TARGET_CPU_RATIO,
        "worst_cpu_ratio": max(ratios) if ratios else None,
        "cpu_met": bool(ratios) and max(ratios) <= TARGET_CPU_RATIO,
        "sqlite": sqlite,
        "postgres": postgres,
    }


if __name__ == "__main__":
    main()
