"""POST, PATCH and PUT requests must carry Content-Length (GS CIM 009 v1.8 §6.3.4): a chunked
body is answered 411 Length Required without a body, and nothing is stored; GET is unaffected."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from tests.ngsild.conftest import Ngsi, air

EID = "urn:ngsi-ld:AirQualityObserved:001"


async def _chunks(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


async def test_chunked_writes_are_411_and_store_nothing(ngsi_lite: Ngsi) -> None:
    headers = {"Authorization": f"Bearer {ngsi_lite.admin_key}", "Content-Type": "application/json"}
    body = json.dumps(air(1)).encode()
    for method, path in (
        ("POST", "/entities"),
        ("PATCH", f"/entities/{EID}/attrs"),
        ("PUT", f"/entities/{EID}"),
    ):
        async with ngsi_lite.http.request(
            method, ngsi_lite.url + path, data=_chunks(body), headers=headers
        ) as resp:
            assert resp.status == 411, (method, await resp.text())
            assert await resp.read() == b""
    listed = await ngsi_lite.get("/entities", type="AirQualityObserved")
    assert listed.status == 200 and listed.body == []
    await ngsi_lite.create(air(1))  # with Content-Length, as every ordinary client sends
