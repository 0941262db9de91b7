"""[policies] record_before_answer = false: answered at once, the record still reaches the log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from connector.config import load_settings
from connector.errors import ConfigError
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.enforcement.helpers import Provider, air, ledger_records, narrowed_policy


async def test_records_queued_rather_than_awaited_still_arrive(
    participant_dir: Callable[..., Path],
) -> None:
    directory = participant_dir(extra_settings={"policies": {"record_before_answer": False}})
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    try:
        async with aiohttp.ClientSession() as http:
            p = Provider(connector, read_admin_key(directory), http)
            await p.seed([air(1)])
            g = await p.grant(narrowed_policy())
            status, _, _ = await g.call("GET", "/entities", params={"type": "AirQualityObserved"})
            assert status == 200
            for _ in range(100):
                records = await ledger_records(p, g.agreement_id)
                if records:
                    break
                await asyncio.sleep(0.05)
            assert [r["decision"] for r in records] == ["permit"]
    finally:
        await connector.stop()


def test_a_bad_setting_is_a_config_error(participant_dir: Callable[..., Path]) -> None:
    from connector.enforcement.settings import enforcement_settings

    directory = participant_dir(extra_settings={"policies": {"deletion_interval_s": -1}})
    with pytest.raises(ConfigError):
        enforcement_settings(load_settings(directory, env={}))
