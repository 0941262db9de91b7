"""RateLimit-Policy / RateLimit headers on data-plane answers under a count quota."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from connector.enforcement.ratelimit import window_end
from tests.enforcement.helpers import Provider, air, c, narrowed_policy

QUERY = {"type": "AirQualityObserved"}
MONTHLY = {"odrl:unit": {"@id": "https://w3id.org/agora/policy#perMonth"}}


async def test_a_monthly_quota_is_announced_and_counts_down(provider: Provider) -> None:
    await provider.seed([air(1)])
    g = await provider.grant(narrowed_policy(c("count", "lteq", 2, **MONTHLY)))
    remaining = []
    for expected in (200, 200, 403):
        status, _, headers = await g.call("GET", "/entities", params=QUERY)
        assert status == expected
        assert headers["RateLimit-Policy"] == '"q0";q=2;w=2592000'
        found = re.fullmatch(r'"q0";r=(\d+);t=(\d+)', headers["RateLimit"])
        assert found, headers["RateLimit"]
        assert 0 < int(found.group(2)) <= 31 * 86_400
        remaining.append(int(found.group(1)))
    assert remaining == [1, 0, 0]


async def test_a_quota_over_the_whole_agreement_has_no_window(provider: Provider) -> None:
    await provider.seed([air(1)])
    g = await provider.grant(narrowed_policy(c("count", "lteq", 3)))
    status, _, headers = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    assert headers["RateLimit-Policy"] == '"q0";q=3'
    assert headers["RateLimit"] == '"q0";r=2'


async def test_no_quota_no_headers(provider: Provider) -> None:
    await provider.seed([air(1)])
    g = await provider.grant(narrowed_policy())
    status, _, headers = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    assert "RateLimit" not in headers and "RateLimit-Policy" not in headers


def test_windows_end_on_utc_calendar_boundaries() -> None:
    now = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    assert window_end("perHour", now) == datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
    assert window_end("perDay", now) == datetime(2026, 2, 1, tzinfo=UTC)
    assert window_end("perWeek", now) == datetime(2026, 2, 2, tzinfo=UTC)  # a Monday
    assert window_end("perMonth", now) == datetime(2026, 2, 1, tzinfo=UTC)
    assert window_end("perYear", now) == datetime(2027, 1, 1, tzinfo=UTC)
