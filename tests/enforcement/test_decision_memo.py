"""The PEP reuses a permit only where the policy's verdict cannot change with time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.enforcement.helpers import DPV, Provider, air, c, ledger_records, narrowed_policy

XSD = "http://www.w3.org/2001/XMLSchema#"
QUERY = {"type": "AirQualityObserved"}


def memo(provider: Provider, agreement_id: str) -> dict[Any, Any]:
    cache = provider.ctx.components["ngsild.pep"].agreements
    return cache._entries[agreement_id].result().decisions  # type: ignore[no-any-return]


async def test_repeated_requests_reuse_the_permit_and_still_count_and_record(
    provider: Provider,
) -> None:
    await provider.seed([air(1), air(2)])
    g = await provider.grant(narrowed_policy(c("count", "lteq", 3)))
    for _ in range(3):
        status, body, _ = await g.call("GET", "/entities", params=QUERY)
        assert status == 200
        assert {k for e in body for k in e} == {"id", "type", "NO2", "location"}  # narrowed
    assert len(memo(provider, g.agreement_id)) == 1  # one decision served three requests
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 403 and "3 were used" in body["detail"]  # the count is never memoised
    # a request stating something else is decided on its own (and refused here)
    status, body, _ = await g.call("GET", "/entities", params={**QUERY, "attrs": "PM10"})
    assert status == 403 and "PM10" in body["detail"]
    records = await ledger_records(provider, g.agreement_id)
    assert [r["decision"] for r in records].count("permit") == 3


async def test_a_purpose_header_is_part_of_what_is_remembered(provider: Provider) -> None:
    await provider.seed([air(1)])
    research = c("purpose", "isAnyOf", [{"@id": DPV + "AcademicResearch"}])
    g = await provider.grant(narrowed_policy(research))
    for purpose, expected in [("dpv:AcademicResearch", 200), ("dpv:Marketing", 403)] * 2:
        status, body, _ = await g.call(
            "GET", "/entities", params=QUERY, headers={"Agora-Purpose": purpose}
        )
        assert status == expected, body
    assert len(memo(provider, g.agreement_id)) == 1  # the permit; refusals are not kept


async def test_a_time_window_is_decided_on_every_request(provider: Provider) -> None:
    await provider.seed([air(1)])
    until = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
    g = await provider.grant(
        narrowed_policy(c("dateTime", "lt", {"@value": until, "@type": XSD + "dateTime"}))
    )
    status, _, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    assert memo(provider, g.agreement_id) == {}  # reads the clock: nothing remembered
    await asyncio.sleep(1.6)
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 403, body
