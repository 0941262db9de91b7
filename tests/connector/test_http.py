"""The HTTP surface every component inherits: Problem Details, limits, the admin key, metrics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.support import Running

PROBLEM = "application/problem+json"


async def test_health_checks_the_database(running: Running) -> None:
    resp = await running.call("GET", "/health", admin=False)
    assert resp.status == 200
    assert (await resp.json()) == {"status": "ok", "checks": {"database": "ok"}}


async def test_unknown_route_is_a_problem(running: Running) -> None:
    resp = await running.call("GET", "/nothing/here")
    assert resp.status == 404
    assert resp.content_type == PROBLEM
    body = await resp.json(content_type=None)
    assert body["status"] == 404
    assert body["title"] == "Not Found"
    assert body["instance"] == "/nothing/here"


async def test_wrong_method_is_a_problem_with_allow(running: Running) -> None:
    resp = await running.call("DELETE", "/api/v1/participant")
    assert resp.status == 405
    assert resp.content_type == PROBLEM
    assert "GET" in resp.headers["Allow"]


async def test_management_requires_the_admin_key(running: Running) -> None:
    resp = await running.call("GET", "/api/v1/participant", admin=False)
    assert resp.status == 401
    assert resp.content_type == PROBLEM
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = await running.call(
        "GET", "/api/v1/participant", admin=False, headers={"Authorization": "Bearer nope"}
    )
    assert wrong.status == 401


async def test_admin_key_in_header_variants(running: Running) -> None:
    bearer = await running.call("GET", "/api/v1/participant")
    assert bearer.status == 200
    info = await bearer.json()
    assert info["name"] == "City of Murcia"
    assert info["did"].startswith("did:web:127.0.0.1%3A")
    api_key = await running.call(
        "GET", "/api/v1/participant", admin=False, headers={"X-Api-Key": running.admin_key}
    )
    assert api_key.status == 200


async def test_profile_round_trip(running: Running) -> None:
    profile = {
        "description": "Open data of the City of Murcia",
        "homepage": "https://www.murcia.es/",
        "contact_email": "datos@murcia.es",
        "country": "ES",
    }
    put = await running.call("PUT", "/api/v1/participant/profile", json=profile)
    assert put.status == 200
    got = await (await running.call("GET", "/api/v1/participant")).json()
    assert got["profile"] == profile


async def test_malformed_json_is_400_and_nothing_stored(running: Running) -> None:
    resp = await running.call(
        "PUT",
        "/api/v1/participant/profile",
        data=b'{"description": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 400
    assert resp.content_type == PROBLEM
    assert "malformed JSON" in (await resp.json(content_type=None))["detail"]
    got = await (await running.call("GET", "/api/v1/participant")).json()
    assert got["profile"]["description"] == ""


async def test_invalid_field_points_at_it(running: Running) -> None:
    resp = await running.call(
        "PUT", "/api/v1/participant/profile", json={"country": "Spain", "colour": "red"}
    )
    assert resp.status == 400
    body = await resp.json(content_type=None)
    pointers = {e["pointer"] for e in body["errors"]}
    assert pointers == {"/country", "/colour"}


async def test_oversized_body_is_413(running: Running) -> None:
    limit = running.connector.settings.server.max_body_bytes
    big = json.dumps({"description": "x" * (limit + 10)})
    resp = await running.call(
        "PUT",
        "/api/v1/participant/profile",
        data=big,
        headers={"Content-Type": "application/json"},
    )
    assert resp.status == 413
    assert resp.content_type == PROBLEM
    assert str(limit) in (await resp.json(content_type=None))["detail"]


async def test_metrics_count_requests(running: Running) -> None:
    await running.call("GET", "/health", admin=False)
    resp = await running.call("GET", "/metrics")
    assert resp.status == 200
    text = await resp.text()
    assert 'agora_http_requests_total{method="GET",route="/health",status="200"}' in text
    assert "agora_http_request_duration_seconds_bucket" in text


async def test_request_id_is_echoed(running: Running) -> None:
    resp = await running.call("GET", "/health", admin=False, headers={"X-Request-Id": "abc-123"})
    assert resp.headers["X-Request-Id"] == "abc-123"


async def test_an_event_stream_outlives_the_request_budget(
    participant_dir: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Server-sent events stay open past ``request_timeout_s``: the budget bounds answering,
    not a stream the client keeps open on purpose (it used to kill the stream silently, so no
    keep-alive ever came)."""
    from connector.dsp import decision_queue

    monkeypatch.setattr(decision_queue, "KEEP_ALIVE_S", 2.0)  # past the 1 s budget below
    directory = participant_dir()
    connector = Connector(load_settings(directory, env={"AGORA_SERVER_REQUEST_TIMEOUT_S": "1"}))
    await connector.start()
    try:
        key = read_admin_key(directory)
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                connector.url + "/api/v1/decisions/events",
                headers={"Authorization": f"Bearer {key}"},
            ) as resp,
        ):
            assert resp.status == 200
            assert resp.content_type == "text/event-stream"
            line = await asyncio.wait_for(resp.content.readline(), 10)
            assert line.startswith(b": keep-alive"), line
    finally:
        await connector.stop()
