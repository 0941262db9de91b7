"""Integers beyond 64 bits in offset/limit overflowed the database driver's binding (500)."""

from __future__ import annotations

import pytest

from tests.support import Running

NGSI = "https://uri.etsi.org/ngsi-ld/errors/"


@pytest.mark.parametrize("value", ["100000000000000000000", "9223372036854775808"])
async def test_huge_offsets_on_each_engine(running: Running, value: str) -> None:
    """SQLite and PostgreSQL both bind 64-bit integers: the bound holds on both."""
    for path in ("/ngsi-ld/v1/entities?type=T&offset=", "/ngsi-ld/v1/subscriptions?offset="):
        resp = await running.call("GET", path + value)
        assert resp.status == 400, await resp.text()
        assert (await resp.json(content_type=None))["type"] == NGSI + "BadRequestData"
    resp = await running.call("GET", "/ngsi-ld/v1/entities?type=T&offset=9007199254740992")
    assert resp.status == 200 and await resp.json() == []
