"""An auditor audits another member's log with DCP tokens its own connector mints per request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from connector.provenance.component import Provenance
from ledger.records import Record
from tests.audit.conftest import agora
from tests.trust.conftest import Space


@pytest.fixture
async def members(tmp_path: Path) -> AsyncIterator[Space]:
    async with aiohttp.ClientSession() as http:
        space = Space(tmp_path, http)
        try:
            authority = await space.add("authority", "authority", identity={"auto_approve": True})
            for key in ("city", "company", "auditor"):
                await space.onboard(await space.add(key, key), authority)
            yield space
        finally:
            await space.close()


async def test_the_auditor_verifies_a_members_log_a_member_may_not(members: Space) -> None:
    city, company, auditor = members["city"], members["company"], members["auditor"]
    assert city.connector.ctx is not None
    provenance: Provenance = city.connector.ctx.components["provenance"]
    for n in range(3):
        await provenance.record(Record(city.did, company.did, "", f"use-{n}", "permit"))

    # several requests, each with a fresh single-use token
    ran = await agora(
        "verify", city.url, "--via", auditor.url, "--via-key", auditor.admin_key, "--json"
    )
    assert ran.code == 0, ran.output
    assert ran.report["records_checked"] == 3

    ran = await agora("verify", city.url, "--via", company.url, "--via-key", company.admin_key)
    assert ran.code == 2
    assert "403" in ran.output and "Traceback" not in ran.output

    ran = await agora("verify", city.url, "--via", auditor.url, "--via-key", "not-the-key")
    assert ran.code == 2
    assert "401" in ran.output

    for path in ("/api/v1/ledger/tree-head", "/api/v1/ledger/records?start=0&end=3"):
        status, body = await city.call("GET", path, admin=False)
        assert status == 401
        assert body["status"] == 401
