"""count limits: consumed atomically, exact under concurrency and across replicas."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.enforcement.helpers import Provider, air, c, narrowed_policy

QUERY = {"type": "AirQualityObserved"}


def counted(limit: int, **extra: object) -> dict[str, object]:
    return narrowed_policy(c("count", "lteq", limit, **extra))


async def test_concurrent_requests_never_exceed_the_count(provider: Provider) -> None:
    g = await provider.grant(counted(30))
    results = await asyncio.gather(*(g.call("GET", "/entities", params=QUERY) for _ in range(100)))
    statuses = Counter(status for status, _, _ in results)
    assert statuses == {200: 30, 403: 70}
    denial = next(body for status, body, _ in results if status == 403)
    assert denial["detail"].startswith("denied — this agreement allows 30 uses")
    assert "30 were used" in denial["detail"]
    # refused requests are not counted: the 31st is still refused with the same numbers
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 403 and "30 were used" in body["detail"]


async def test_monthly_window_names_the_month(provider: Provider) -> None:
    g = await provider.grant(
        counted(2, **{"odrl:unit": {"@id": "https://w3id.org/agora/policy#perMonth"}})
    )
    for _ in range(2):
        status, _, _ = await g.call("GET", "/entities", params=QUERY)
        assert status == 200
    status, body, _ = await g.call("GET", "/types")
    assert status == 403
    assert "allows 2 uses per month and 2 were used by " in body["detail"]


async def test_replicas_on_one_postgres_share_the_count(
    postgres_url: str, participant_dir: Callable[..., Path]
) -> None:
    """Two connectors (one public URL, one DID) on one PostgreSQL database: 100 concurrent
    requests spread over both, against a count of 30 → exactly 30 answered."""
    directory = participant_dir(storage_url=postgres_url)
    first = Connector(load_settings(directory, env={}))
    await first.start()
    settings = load_settings(directory, env={})
    settings.server.public_url = first.url  # behind one load balancer: one URL, one DID
    settings.server.port = 0
    second = Connector(settings)
    await second.start()
    try:
        async with aiohttp.ClientSession() as http:
            p = Provider(first, read_admin_key(directory), http)
            await p.seed([air(n) for n in range(1, 4)])
            g = await p.grant(counted(30))
            urls = [first.url, f"http://127.0.0.1:{second.settings.server.port}"]

            async def one(i: int) -> int:
                async with http.get(
                    urls[i % 2] + "/ngsi-ld/v1/entities",
                    params=QUERY,
                    headers={"Authorization": f"Bearer {g.token}"},
                ) as resp:
                    await resp.read()
                    return resp.status

            statuses = Counter(await asyncio.gather(*(one(i) for i in range(100))))
            assert statuses == {200: 30, 403: 70}
    finally:
        await second.stop()
        await first.stop()
