"""Request bodies in a coding we do not decode: 415 before the body is read, nothing stored."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest

from connector.config import load_settings
from connector.participant import read_admin_key
from connector.runtime import Connector
from tests.support import NgsiClient

PROBLEM = "application/problem+json"
ENTITY = {"id": "urn:ngsi-ld:T:enc", "type": "T", "p": {"type": "Property", "value": 1}}


@pytest.fixture
async def city(participant_dir: Callable[..., Path]) -> AsyncIterator[NgsiClient]:
    directory = participant_dir()
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    try:
        async with aiohttp.ClientSession() as http:
            yield NgsiClient(connector, read_admin_key(directory), http)
    finally:
        await connector.stop()


async def _stored(city: NgsiClient) -> bool:
    reply = await city.get("/entities/" + ENTITY["id"])
    return reply.status == 200


async def test_truncated_deflate_is_refused_before_the_body_arrives(city: NgsiClient) -> None:
    """A deflate body cut short used to leave the handler's read waiting until the request
    timeout; the refusal now comes as soon as the headers are in, with no body sent at all."""
    split = urlsplit(city.url)
    reader, writer = await asyncio.open_connection(split.hostname, split.port)
    try:
        writer.write(
            (
                "POST /ngsi-ld/v1/entities HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {city.admin_key}\r\n"
                "Content-Type: application/json\r\nContent-Encoding: deflate\r\n"
                "Content-Length: 1\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode().split("\r\n")
        assert status_line.split()[1] == "415", head
        headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
        assert headers["Content-Type"].startswith(PROBLEM)
        assert headers["Accept-Encoding"] == "gzip"
        assert headers["Connection"] == "close"
        body = json.loads(await reader.readexactly(int(headers["Content-Length"])))
        assert body["status"] == 415 and "deflate" in body["detail"]
    finally:
        writer.close()
    assert not await _stored(city)


# br and zstd (no decoder installed) are refused by aiohttp's parser itself, as a 400
@pytest.mark.parametrize("coding", ["deflate", "x-unknown", "gzip, gzip", "compress"])
async def test_unaccepted_codings_are_415_and_nothing_is_stored(
    city: NgsiClient, coding: str
) -> None:
    reply = await city.call(
        "POST",
        "/entities",
        raw=json.dumps(ENTITY).encode(),
        headers={"Content-Encoding": coding},
    )
    assert reply.status == 415, reply.body
    assert reply.content_type == PROBLEM
    assert reply.headers["Accept-Encoding"] == "gzip"
    assert not await _stored(city)


async def test_gzip_bodies_are_still_accepted(city: NgsiClient) -> None:
    reply = await city.call(
        "POST",
        "/entities",
        raw=gzip.compress(json.dumps(ENTITY).encode()),
        headers={"Content-Encoding": "gzip"},
    )
    assert reply.status == 201, reply.body
    assert await _stored(city)


async def test_an_undecodable_body_left_unread_is_not_an_error_log(
    city: NgsiClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Refused before its body was read (no credentials), a gzip-labelled body that is not gzip
    is discarded by the server; that costs a debug line, not a traceback in the error log."""
    split = urlsplit(city.url)
    garbage = b"this is not gzip at all" * 10
    with caplog.at_level("DEBUG", logger="aiohttp.server"):
        reader, writer = await asyncio.open_connection(split.hostname, split.port)
        try:
            writer.write(
                (
                    "POST /ngsi-ld/v1/entities HTTP/1.1\r\nHost: x\r\n"
                    "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
                    f"Content-Length: {len(garbage)}\r\n\r\n"
                ).encode()
                + garbage
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert head.split()[1] == b"401", head
            await asyncio.wait_for(reader.read(), 10)  # the server ends the connection
        finally:
            writer.close()
    errors = [r for r in caplog.records if r.name == "aiohttp.server" and r.levelname == "ERROR"]
    assert errors == [], [r.getMessage() for r in errors]
    assert not await _stored(city)
