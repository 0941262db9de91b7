"""Provenance records, per-access duties and the request context of the decision."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.enforcement.helpers import CONSUMER, DPV, Provider, c, ledger_records, narrowed_policy

QUERY = {"type": "AirQualityObserved"}
XSD = "http://www.w3.org/2001/XMLSchema#"


def fee(amount: str) -> dict[str, Any]:
    return {
        "@id": "urn:duty:fee",
        "action": {
            "http://www.w3.org/1999/02/22-rdf-syntax-ns#value": {"@id": "odrl:compensate"},
            "odrl:refinement": [
                c(
                    "payAmount",
                    "eq",
                    {"@value": amount, "@type": XSD + "decimal"},
                    **{"odrl:unit": {"@id": "http://dbpedia.org/resource/Euro"}},
                )
            ],
        },
    }


async def test_every_access_is_recorded_with_hashes(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, _, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    status, _, _ = await g.call("GET", "/entities", params={"type": "ParkingSpot"})
    assert status == 403
    status, _, _ = await g.call("DELETE", "/entities/urn:ngsi-ld:AirQualityObserved:001")
    assert status == 403
    status, _, _ = await g.call("GET", "/entities/urn:ngsi-ld:ParkingSpot:001")
    assert status == 404  # permitted to ask, nothing visible: still recorded
    # the owner's own access is not a data-sharing event
    async with provider.http.get(
        provider.url + "/ngsi-ld/v1/entities",
        params=QUERY,
        headers={"Authorization": f"Bearer {provider.admin_key}"},
    ) as resp:
        assert resp.status == 200

    records = await ledger_records(provider, g.agreement_id)
    assert [(r["decision"], r["action"], r["details"]["status"]) for r in records] == [
        ("permit", "read", 200),
        ("deny", "read", 403),
        ("deny", "modify", 403),
        ("permit", "read", 404),
    ]
    first = records[0]
    assert first["kind"] == "access"
    assert first["provider"] == provider.ctx.settings.did
    assert first["consumer"] == CONSUMER
    assert first["details"]["operation"] == "entities.query"
    assert first["details"]["entities"] == 3
    assert first["details"]["transferId"] == g.transfer_id
    expected = hashlib.sha256(b"GET\0/ngsi-ld/v1/entities?type=AirQualityObserved\0").hexdigest()
    assert first["request_hash"] == expected
    assert len(first["response_hash"]) == 64
    assert "ParkingSpot is not part of it" in records[1]["details"]["reason"]


async def test_batch_query_hash_covers_the_body(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    raw = b'{"type":"Query","entities":[{"type":"AirQualityObserved"}]}'
    status, _, _ = await g.call(
        "POST",
        "/entityOperations/query",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    [record] = await ledger_records(provider, g.agreement_id)
    assert (
        record["request_hash"]
        == hashlib.sha256(b"POST\0/ngsi-ld/v1/entityOperations/query\0" + raw).hexdigest()
    )


async def test_duties_attribute_inform_and_pending_compensation(provider: Provider) -> None:
    duties = [{"action": "attribute"}, {"action": "inform"}, fee("10.00")]
    g = await provider.grant(narrowed_policy(duties=duties))
    status, _, headers = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    links = headers.getall("Link")
    assert any('rel="license"' in link for link in links)
    assert any("json-ld#context" in link for link in links)  # the NGSI-LD context link stays
    assert provider.ctx.settings.did in headers["Agora-Attribution"]
    [record] = await ledger_records(provider, g.agreement_id)
    owed = {d["action"]: d for d in record["details"]["duties"].values()}
    assert owed["inform"]["state"].startswith("fulfilled")
    assert owed["attribute"]["state"].startswith("fulfilled")
    assert owed["compensate"]["state"] == "pending: settled by the marketplace"
    assert owed["compensate"]["parameters"]["payAmount"] == "10.00"
    assert "pay 10.00 EUR" in owed["compensate"]["text"]
    # refused answers carry no attribution
    status, _, headers = await g.call("GET", "/entities", params={"type": "ParkingSpot"})
    assert status == 403 and "Agora-Attribution" not in headers


async def test_purpose_header_is_checked(provider: Provider) -> None:
    research = c("purpose", "isAnyOf", [{"@id": DPV + "AcademicResearch"}])
    g = await provider.grant(narrowed_policy(research))
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    # the refusal says how to declare a purpose
    assert status == 403 and "send the Agora-Purpose header" in body["detail"], body
    status, body, _ = await g.call(
        "GET", "/entities", params=QUERY, headers={"Agora-Purpose": "dpv:Marketing"}
    )
    assert status == 403 and "purpose" in body["detail"]
    assert "dpv:Marketing" in body["detail"] and "Agora-Purpose" in body["detail"]
    for purpose in ("dpv:AcademicResearch", DPV + "AcademicResearch"):
        status, body, _ = await g.call(
            "GET", "/entities", params=QUERY, headers={"Agora-Purpose": purpose}
        )
        assert status == 200, body


async def test_time_window_and_recipient(provider: Provider) -> None:
    past = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    over = await provider.grant(
        narrowed_policy(c("dateTime", "lt", {"@value": past, "@type": XSD + "dateTime"}))
    )
    status, body, _ = await over.call("GET", "/entities", params=QUERY)
    assert status == 403 and body["detail"].startswith("denied")
    within = await provider.grant(
        narrowed_policy(c("elapsedTime", "lteq", {"@value": "P30D", "@type": XSD + "duration"}))
    )
    status, _, _ = await within.call("GET", "/entities", params=QUERY)
    assert status == 200
    elapsed = await provider.grant(
        narrowed_policy(c("elapsedTime", "lt", {"@value": "PT0S", "@type": XSD + "duration"}))
    )
    status, _, _ = await elapsed.call("GET", "/entities", params=QUERY)
    assert status == 403
    others = await provider.grant(narrowed_policy(c("recipient", "eq", "did:web:someone.else")))
    status, _, _ = await others.call("GET", "/entities", params=QUERY)
    assert status == 403
    mine = await provider.grant(narrowed_policy(c("recipient", "eq", CONSUMER)))
    status, _, _ = await mine.call("GET", "/entities", params=QUERY)
    assert status == 200


async def test_agreement_compiled_once_and_credential_limits_explained(
    provider: Provider,
) -> None:
    g = await provider.grant(narrowed_policy())
    pep = provider.ctx.components["ngsild.pep"]
    before = pep.agreements.compilations
    for _ in range(5):
        status, _, _ = await g.call("GET", "/entities", params=QUERY)
        assert status == 200
    assert pep.agreements.compilations == before + 1

    member = await provider.grant(
        narrowed_policy(c("agora:credentialType", "eq", "ResearcherCredential"))
    )
    status, body, _ = await member.call("GET", "/entities", params=QUERY)
    assert status == 403
    assert "ResearcherCredential" in body["detail"], body
