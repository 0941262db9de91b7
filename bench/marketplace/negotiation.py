"""A priced negotiation with an evm payment, end to end, against the unpriced flow.

Both connectors run in this process (the embedded chain is one per process, so that is where a
demo token payment can happen) with every component mounted. One unpriced flow = negotiate the
offering's free plan to FINALIZED + a PULL transfer to STARTED (``bench.dsp``'s flow, here with
both connectors in-process). One priced flow = the same for the €49/month plan, plus the evm
payment: the consumer asks what is due, pays on the embedded chain, and the provider verifies the
receipt, records it and only then finalizes. Sequential flows, one unpriced then one priced,
so both see the same load; p50 of each, in the same run.

On a shared machine the wall-clock p50 moves with everyone else's load, so the run also reports
the process CPU time per flow (both connectors and the chain are in this process, so that is
the whole work of a flow) and the median of the per-pair ratios: those hold still when the wall
figures do not.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.dsp.__main__ import Node, one_flow
from connector.config import load_settings
from connector.market.cli import research_and_commercial
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector
from marketplace.numbers import dumps

FLOWS = 30
TARGET_RATIO = 2.0


async def _timed(flow: Any) -> tuple[float, float]:
    """(wall ms, process CPU ms) of one awaited flow."""
    cpu = time.process_time()
    wall = await flow
    return wall, (time.process_time() - cpu) * 1000


async def _node(root: Path, name: str, account: str, http: aiohttp.ClientSession) -> Node:
    init_participant(
        root / name,
        name,
        "city" if name == "city" else "company",
        port=0,
        dev_mode=True,
        extra_settings={
            "dsp": {"authentication": "self-issued"},
            "marketplace": {"evm_chain": "embedded", "evm_account": account},
        },
    )
    connector = Connector(load_settings(root / name, env={}))
    await connector.start()
    return Node(connector, read_admin_key(root / name), http)


async def priced_flow(city: Node, company: Node, offer: dict[str, Any], dataset: str) -> float:
    started = time.perf_counter()
    neg = await company.admin(
        "POST",
        "/negotiations",
        {"counterPartyAddress": city.connector.url + "/dsp", "offer": offer, "target": dataset},
    )
    await company.until(neg["id"], "VERIFIED")  # the city finalizes once it is paid
    agreement = (await company.admin("GET", f"/negotiations/{neg['id']}"))["agreementId"]
    await company.admin("POST", "/market/pay", {"agreementId": agreement})
    await company.until(neg["id"], "FINALIZED")
    tr = await company.admin(
        "POST", "/transfers", {"agreementId": agreement, "format": "NGSI-LD-PULL"}
    )
    await company.until(tr["id"], "STARTED")
    return (time.perf_counter() - started) * 1000


async def measure() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-market-") as tmp:
        root = Path(tmp)
        async with aiohttp.ClientSession() as http:
            company = await _node(root, "company", "embedded:0", http)
            city = await _node(root, "city", "embedded:1", http)
            try:
                ds = await city.admin(
                    "POST", "/datasets", {"title": "AQ", "entityTypes": ["AirQualityObserved"]}
                )
                doc = research_and_commercial(ds["id"], "aq", "Air quality")
                async with http.post(
                    city.connector.url + "/api/v1/offerings",
                    data=dumps(doc),
                    headers={
                        "Authorization": f"Bearer {city.key}",
                        "Content-Type": "application/json",
                    },
                ) as resp:
                    assert resp.status == 201, await resp.text()
                published = await city.admin("POST", "/offerings/aq/publish")
                free, priced = published["offers"]
                city_url = city.connector.url
                for _ in range(3):  # warm-up: DID resolution, pools, the chain's first blocks
                    await one_flow(city_url, company, free, ds["id"])
                    await priced_flow(city, company, priced, ds["id"])
                unpriced, priced_runs = [], []
                for _ in range(FLOWS):
                    unpriced.append(await _timed(one_flow(city_url, company, free, ds["id"])))
                    priced_runs.append(await _timed(priced_flow(city, company, priced, ds["id"])))
            finally:
                await city.connector.stop()
                await company.connector.stop()
    med = statistics.median
    p50_free, p50_priced = med(w for w, _ in unpriced), med(w for w, _ in priced_runs)
    cpu_free, cpu_priced = med(c for _, c in unpriced), med(c for _, c in priced_runs)
    ratio = p50_priced / p50_free
    paired = med(p[0] / u[0] for u, p in zip(unpriced, priced_runs, strict=True))
    return {
        "flows": FLOWS,
        "unpriced_p50_ms": round(p50_free, 2),
        "priced_evm_p50_ms": round(p50_priced, 2),
        "ratio_priced_to_unpriced": round(ratio, 2),
        "paired_ratio_p50": round(paired, 2),
        "unpriced_cpu_p50_ms": round(cpu_free, 2),
        "priced_evm_cpu_p50_ms": round(cpu_priced, 2),
        "cpu_ratio": round(cpu_priced / cpu_free, 2),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio <= TARGET_RATIO,
    }
