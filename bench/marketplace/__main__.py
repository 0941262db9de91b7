"""Ratings per second of each price model, on one core.

Run with ``python -m bench.marketplace``; prints one JSON object. Each model rates a month of
varied usage (so tiered plans cross their tier edges) through the public :func:`rate`, which
includes the period check, every line's rounding, discount, VAT and the frozen result objects.
The baseline, measured in the same run, is the bare arithmetic of one metered line (a Decimal
multiply and one half-up quantize, no model, no checks): ``ratio_to_baseline`` says how much the
full rating costs on top of the arithmetic it cannot avoid.

Target: >= 50,000 ratings per second for every model. ``negotiation`` (see
``bench.marketplace.negotiation``): a priced negotiation with an evm payment end to end, p50,
against the unpriced flow in the same run; target <= 2x. ``--no-negotiation`` skips it.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import partial
from typing import Any

from marketplace.plans import parse_plan
from marketplace.rating import Usage, rate

TARGET = 50_000
JAN = datetime(2026, 1, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)

PLANS: dict[str, dict[str, Any]] = {
    "free": {"kind": "free"},
    "one_off": {"kind": "one_off", "price": "120.00", "vat_rate": "21"},
    "recurring": {
        "kind": "recurring",
        "price": "49.00",
        "period": "P1M",
        "vat_rate": "21",
        "discount": "10",
    },
    "metered": {"kind": "metered", "unit": "request", "rate": "0.0015", "vat_rate": "21"},
    "tiered_graduated": {
        "kind": "tiered",
        "mode": "graduated",
        "unit": "request",
        "vat_rate": "21",
        "tiers": [
            {"start": 0, "end": 1000, "rate": "0"},
            {"start": 1000, "end": 10000, "rate": "0.002"},
            {"start": 10000, "end": 100000, "rate": "0.001"},
            {"start": 100000, "rate": "0.0005"},
        ],
    },
    "tiered_volume": {
        "kind": "tiered",
        "mode": "volume",
        "unit": "MB",
        "vat_rate": "21",
        "tiers": [
            {"start": 0, "end": 100, "rate": "0.05"},
            {"start": 100, "end": 1000, "rate": "0.03"},
            {"start": 1000, "rate": "0.01"},
        ],
    },
    "freemium": {
        "kind": "freemium",
        "unit": "entity",
        "free_quota": 5000,
        "rate": "0.0004",
        "period": "P1M",
        "vat_rate": "21",
        "discount": "5",
    },
}


def usages(n: int) -> list[Usage]:
    return [
        Usage(
            JAN,
            FEB,
            requests=(i * 7919) % 250_000,
            entities=(i * 104_729) % 40_000,
            bytes=(i * 15_485_863) % 3_000_000_000,
        )
        for i in range(n)
    ]


def per_cpu_second(fn: Callable[[Any], Any], args: list[Any], seconds: float) -> float:
    """Calls per CPU-second of this thread (the fair one-core figure on a shared machine)."""
    count = 0
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    while True:
        for a in args:
            fn(a)
        count += len(args)
        if time.perf_counter() - wall0 >= seconds:
            return count / max(time.thread_time() - cpu0, 1e-9)


def main() -> None:
    import asyncio
    import sys

    # Rating first, in a fresh process: the negotiation's connectors and chain leave a heap
    # that slows every later allocation.
    us = usages(256)
    figures: dict[str, int] = {}
    for name, data in PLANS.items():
        plan = parse_plan({"id": name, **data})
        rate(plan, us[0])
        figures[name] = round(per_cpu_second(partial(rate, plan), us, 1.0))

    cent, price = Decimal("0.01"), Decimal("0.0015")
    counts = [Decimal(u.requests) for u in us]

    def baseline(q: Decimal) -> Decimal:
        return (q * price).quantize(cent, rounding=ROUND_HALF_UP)

    base = per_cpu_second(baseline, counts, 1.0)
    negotiation: Any = "skipped (--no-negotiation)"
    if "--no-negotiation" not in sys.argv:
        from connector import logs

        from .negotiation import measure

        logs.configure("ERROR", json_format=True)
        negotiation = asyncio.run(measure())
    slowest = min(figures, key=figures.__getitem__)
    print(
        json.dumps(
            {
                "benchmark": "marketplace.rating",
                "unit": "ratings per CPU-second, one thread",
                "ratings_per_second": figures,
                "target_ratings_per_second": TARGET,
                "meets_target": all(v >= TARGET for v in figures.values()),
                "slowest_model": slowest,
                "baseline": "one Decimal multiply + half-up quantize (a bare metered line)",
                "baseline_per_second": round(base),
                "ratio_to_baseline": {k: round(base / v, 1) for k, v in figures.items()},
                "negotiation": negotiation,
                "load_average_1m": round(os.getloadavg()[0], 2),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
