"""``RateLimit-Policy`` and ``RateLimit`` headers (IETF httpapi draft "RateLimit header fields
for HTTP") on data-plane answers, so a consumer can pace itself within its agreement's quotas.

Each ``count`` constraint the request consumed is one quota policy, named ``q<i>`` in the order
the decision lists them: ``RateLimit-Policy: "q0";q=1000;w=2592000`` (``q`` units per window of
``w`` seconds; no ``w`` for a quota over the whole agreement) and ``RateLimit: "q0";r=412;t=86399``
(``r`` units remaining, ``t`` seconds until the window resets; no ``t`` without a window). The
windows are the usage counters' UTC calendar periods, so ``w`` is nominal for months and years
and ``t`` is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from policies.durations import add_months
from policies.report import CounterSpec
from policies.usage import ConsumeResult, window_start

NOMINAL_S: Final = {
    "perHour": 3600,
    "perDay": 86_400,
    "perWeek": 7 * 86_400,
    "perMonth": 30 * 86_400,
    "perYear": 365 * 86_400,
}


def window_end(window: str, now: datetime) -> datetime:
    start = window_start(window, now)
    assert start is not None
    if window == "perHour":
        return start + timedelta(hours=1)
    if window == "perDay":
        return start + timedelta(days=1)
    if window == "perWeek":
        return start + timedelta(days=7)
    if window == "perMonth":
        return add_months(start, 1)
    return add_months(start, 12)


def headers(
    quotas: Sequence[tuple[CounterSpec, ConsumeResult]], now: datetime | None = None
) -> dict[str, str]:
    """The two header fields for the quotas a request consumed (empty when there were none)."""
    if not quotas:
        return {}
    now = (now or datetime.now(UTC)).astimezone(UTC)
    policies, states = [], []
    for i, (spec, result) in enumerate(quotas):
        name = f'"q{i}"'
        policy, state = f"{name};q={spec.limit}", f"{name};r={max(0, spec.limit - result.used)}"
        if spec.window in NOMINAL_S:
            policy += f";w={NOMINAL_S[spec.window]}"
            reset = window_end(spec.window, now) - now
            state += f";t={max(0, int(reset.total_seconds()))}"
        policies.append(policy)
        states.append(state)
    return {"RateLimit-Policy": ", ".join(policies), "RateLimit": ", ".join(states)}
