"""What aiohttp's parser refuses before any middleware runs is answered as Problem Details
too (it was text/plain), and a body declared too large is refused before it is sent."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.support import NgsiClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

POST_ENTITY = b"POST /ngsi-ld/v1/entities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


async def exchange(city: NgsiClient, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Send raw bytes on a fresh connection; the status, headers and JSON body answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", city.connector.settings.server.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            k.strip().lower(): v.strip()
            for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
        }
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 30)
        return status, headers, json.loads(body)
    finally:
        writer.close()


async def _healthy_and_unchanged(city: NgsiClient) -> None:
    async with city.http.get(city.connector.url + "/health") as resp:
        assert resp.status == 200
    assert (await city.get("/entities/urn:a:parser")).status == 404


ENTITY = b'{"id":"urn:a:parser","type":"T"}'
ADMIN_PLACEHOLDER = b"Authorization: Bearer {key}\r\n"

CASES = {
    "garbage request line": (b"GARBAGE\r\n\r\n", 400),
    "bad method": (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "bad header name": (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
    "request line over 8 KiB": (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "20 KB Authorization": (
        b"GET /api/v1/participant HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + b"a" * 20_000
        + b"\r\n\r\n",
        431,
    ),
    "200 header fields": (
        b"GET /health HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-N%d: 1\r\n" % i for i in range(200))
        + b"\r\n",
        431,
    ),
    "chunk of 2^64 bytes": (
        POST_ENTITY + b"{admin}Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n{",
        400,
    ),
    "chunk size not hex": (
        POST_ENTITY + b"{admin}Transfer-Encoding: chunked\r\n\r\nzz\r\n" + ENTITY,
        400,
    ),
    "Content-Length over 2^64": (
        POST_ENTITY + b"{admin}Content-Length: 18446744073709551616\r\n\r\n" + ENTITY,
        400,
    ),
    "both Content-Length and chunked": (
        POST_ENTITY
        + b"{admin}Content-Length: 32\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"20\r\n"
        + ENTITY
        + b"\r\n0\r\n\r\n",
        400,
    ),
}


@pytest.mark.parametrize(("request_bytes", "status"), CASES.values(), ids=CASES.keys())
async def test_parser_errors_are_problem_details(
    city: NgsiClient, request_bytes: bytes, status: int
) -> None:
    admin = ADMIN_PLACEHOLDER.replace(b"{key}", city.admin_key.encode())
    answered, headers, problem = await exchange(city, request_bytes.replace(b"{admin}", admin))
    assert answered == status, problem
    assert headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == status and problem["title"]
    await _healthy_and_unchanged(city)


async def test_an_authorization_header_within_the_limit_reaches_the_app(city: NgsiClient) -> None:
    """15 KB is under the field limit: the app answers (401 for a wrong key), not the parser."""
    request = (
        b"GET /api/v1/participant HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + b"a" * 15_000
        + b"\r\n\r\n"
    )
    status, headers, problem = await exchange(city, request)
    assert status == 401 and headers["content-type"].startswith("application/problem+json")
    assert "admin API key" in problem["detail"]


@pytest.mark.parametrize("length", [2**64 - 1, 10**12, 2 * 1024 * 1024 * 1024])
async def test_a_declared_length_over_the_limit_is_413_before_the_body(
    city: NgsiClient, length: int
) -> None:
    """Only the headers are sent: the answer comes without the body ever being written."""
    admin = ADMIN_PLACEHOLDER.replace(b"{key}", city.admin_key.encode())
    request = POST_ENTITY + admin + b"Content-Length: %d\r\n\r\n" % length
    status, headers, problem = await exchange(city, request)
    assert status == 413 and headers["content-type"].startswith("application/problem+json")
    assert str(length) in problem["detail"]
    assert headers.get("connection", "").lower() == "close"
    await _healthy_and_unchanged(city)


async def test_a_chunked_body_over_the_limit_is_413(city: NgsiClient) -> None:
    """Chunked bodies declare no total: reading stops at the limit with a 413 Problem. (The
    management API takes chunked bodies; NGSI-LD answers them 411, as GS CIM 009 §6.3.4 says.)"""
    limit = city.connector.settings.server.max_body_bytes
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(limit // len(chunk) + 2))
    admin = ADMIN_PLACEHOLDER.replace(b"{key}", city.admin_key.encode())
    head = b"POST /api/v1/datasets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    request = head + admin + b"Transfer-Encoding: chunked\r\n\r\n" + body
    status, headers, problem = await exchange(city, request)
    assert status == 413 and headers["content-type"].startswith("application/problem+json")
    assert problem["status"] == 413
    await _healthy_and_unchanged(city)
    listed = await city.http.get(
        city.connector.url + "/api/v1/datasets",
        headers={"Authorization": f"Bearer {city.admin_key}"},
    )
    assert listed.status == 200 and await listed.json() == []
