"""Start, stop, restart: migrations, replicas sharing PostgreSQL, no leaked tasks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
from sqlalchemy import inspect

from connector.config import load_settings
from connector.runtime import Connector
from connector.storage import create_engine


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_start_migrates_and_restart_keeps_data(
    db_url: str, participant_dir: Callable[..., Path]
) -> None:
    d = participant_dir(storage_url=db_url)
    async with Connector(load_settings(d, env={})) as c, aiohttp.ClientSession() as http:
        key = (d / "admin-api-key").read_text().strip()
        r = await http.put(
            c.url + "/api/v1/participant/profile",
            json={"description": "kept"},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status == 200
    assert {"agora_kv", "alembic_version"} <= await _tables(db_url)
    async with Connector(load_settings(d, env={})) as c, aiohttp.ClientSession() as http:
        r = await http.get(c.url + "/api/v1/participant", headers={"X-Api-Key": key})
        assert (await r.json())["profile"]["description"] == "kept"


async def test_stop_leaves_no_tasks_behind(
    db_url: str, participant_dir: Callable[..., Path]
) -> None:
    before = asyncio.all_tasks()
    c = Connector(load_settings(participant_dir(storage_url=db_url), env={}))
    await c.start()
    assert c.ctx is not None

    async def forever() -> None:
        await asyncio.Event().wait()

    c.ctx.tasks.spawn(forever(), name="test-background")
    async with aiohttp.ClientSession() as http:
        assert (await http.get(c.url + "/health")).status == 200
    await c.stop()
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert leaked == set(), leaked


async def test_stop_lets_an_in_flight_request_finish(
    participant_dir: Callable[..., Path],
) -> None:
    c = Connector(load_settings(participant_dir(), env={}))
    await c.start()
    assert c.app is not None
    key = (Path(c.settings.directory) / "admin-api-key").read_text().strip()
    async with aiohttp.ClientSession() as http:
        pending = asyncio.create_task(
            http.put(
                c.url + "/api/v1/participant/profile",
                json={"description": "in flight"},
                headers={"X-Api-Key": key},
            )
        )
        await asyncio.sleep(0.05)
        await c.stop()
        resp = await pending
        assert resp.status == 200


async def test_replicas_sharing_postgres_start_together(
    postgres_url: str, participant_dir: Callable[..., Path]
) -> None:
    d = participant_dir(storage_url=postgres_url)
    replicas = [Connector(load_settings(d, env={})) for _ in range(3)]
    await asyncio.gather(*(r.start() for r in replicas))
    try:
        async with aiohttp.ClientSession() as http:
            for r in replicas:
                assert (await http.get(r.url + "/health")).status == 200
    finally:
        await asyncio.gather(*(r.stop() for r in replicas))
