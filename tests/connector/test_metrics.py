"""Who may read /metrics: the admin key by default, anyone if the operator says so, and a
separate listener (its address is the access control) that serves nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from connector.config import load_settings
from connector.errors import ConfigError
from connector.participant import read_admin_key
from connector.runtime import Connector

PROBLEM = "application/problem+json"
PROMETHEUS = "text/plain"


@asynccontextmanager
async def serving(
    directory: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[tuple[Connector, aiohttp.ClientSession]]:
    connector = Connector(load_settings(directory, env=env or {}))
    await connector.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield connector, http
    finally:
        await connector.stop()


async def test_metrics_need_the_admin_key_by_default(
    participant_dir: Callable[..., Path],
) -> None:
    directory = participant_dir()
    key = read_admin_key(directory)
    async with serving(directory) as (connector, http):
        async with http.get(connector.url + "/metrics") as resp:
            assert resp.status == 401
            assert resp.content_type == PROBLEM
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            body = await resp.json(content_type=None)
            assert body["status"] == 401
            assert "agora_http" not in await resp.text()
        wrong = {"Authorization": "Bearer not-the-key"}
        async with http.get(connector.url + "/metrics", headers=wrong) as resp:
            assert resp.status == 401
            assert resp.content_type == PROBLEM
        admin = {"Authorization": f"Bearer {key}"}
        async with http.get(connector.url + "/metrics", headers=admin) as resp:
            assert resp.status == 200
            assert resp.content_type == PROMETHEUS
            text = await resp.text()
        # the refused scrapes are counted too: the figures are there, only not for anyone
        assert 'agora_http_requests_total{method="GET",route="/metrics",status="401"}' in text
        assert connector.metrics_url is None


async def test_metrics_public_when_configured(participant_dir: Callable[..., Path]) -> None:
    env = {"AGORA_SERVER_METRICS_ACCESS": "public"}
    async with serving(participant_dir(), env) as (connector, http):
        async with http.get(connector.url + "/metrics") as resp:
            assert resp.status == 200
            assert resp.content_type == PROMETHEUS
            assert "agora_http_request_duration_seconds" in await resp.text()


async def test_separate_metrics_listener(participant_dir: Callable[..., Path]) -> None:
    env = {"AGORA_SERVER_METRICS_LISTEN": "127.0.0.1:0"}
    async with serving(participant_dir(), env) as (connector, http):
        assert connector.metrics_url is not None
        assert connector.metrics_url != connector.url + "/metrics"
        await http.get(connector.url + "/health")
        async with http.get(connector.metrics_url) as resp:
            assert resp.status == 200
            assert resp.content_type == PROMETHEUS
            text = await resp.text()
        assert 'agora_http_requests_total{method="GET",route="/health",status="200"}' in text
        # the main listener still asks for the key
        async with http.get(connector.url + "/metrics") as resp:
            assert resp.status == 401
        # the metrics listener serves nothing else: not the management API, not NGSI-LD
        base = connector.metrics_url.removesuffix("/metrics")
        for path in ("/api/v1/participant", "/ngsi-ld/v1/entities", "/health"):
            async with http.get(base + path) as resp:
                assert resp.status == 404
                assert resp.content_type == PROBLEM
        url = connector.metrics_url
    # stopped with the connector
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(url)


@pytest.mark.parametrize("value", ["9464", "127.0.0.1:", ":9464", "127.0.0.1:99999", "x:y"])
def test_bad_metrics_listen_is_a_config_error(
    participant_dir: Callable[..., Path], value: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(participant_dir(), env={"AGORA_SERVER_METRICS_LISTEN": value})
    assert "AGORA_SERVER_METRICS_LISTEN" in str(err.value)
    assert "host:port" in str(err.value)


def test_bad_metrics_access_is_a_config_error(participant_dir: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(participant_dir(), env={"AGORA_SERVER_METRICS_ACCESS": "everyone"})
    assert "AGORA_SERVER_METRICS_ACCESS" in str(err.value)
