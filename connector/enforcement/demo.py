"""Demo step: usage control on the data plane.

After the DSP step showed an open agreement, the city offers its air quality under narrower
terms — AirQualityObserved only, NO2 and location only, 3 requests, attribution, copies deleted
within 30 days. The company negotiates (DSP + DCP), starts a PULL transfer and its application
pulls *through the company's own connector*, which keeps a received-data record for the delete
duty. Within the terms the answer comes back narrowed; beyond them the city refuses with a
plain-language reason, and the fourth request is refused because the count is used up.
"""

from __future__ import annotations

import json
from typing import Any

from connector.demo.space import DataSpace
from connector.enforcement.flow import publish_and_start
from connector.ngsild.context import SDM_URL, link_header

SDM = "https://smartdatamodels.org/dataModel.Environment/"
LOCATION = "https://uri.etsi.org/ngsi-ld/location"
TERMS: dict[str, Any] = {
    "permission": [
        {
            "action": "use",
            "constraint": [
                {
                    "leftOperand": "ngsi-ld:entityType",
                    "operator": "isPartOf",
                    "rightOperand": [SDM + "AirQualityObserved"],
                },
                {
                    "leftOperand": "ngsi-ld:attribute",
                    "operator": "isPartOf",
                    "rightOperand": [SDM + "NO2", LOCATION],
                },
                {
                    "leftOperand": "count",
                    "operator": "lteq",
                    "rightOperand": {"@value": "3", "@type": "xsd:integer"},
                },
            ],
            "duty": [
                {"action": "attribute"},
                {
                    "action": "delete",
                    "constraint": [
                        {
                            "leftOperand": "elapsedTime",
                            "operator": "lteq",
                            "rightOperand": {"@value": "P30D", "@type": "xsd:duration"},
                        }
                    ],
                },
            ],
        }
    ]
}


class UsageDemoFailed(Exception):
    pass


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise UsageDemoFailed(message)


async def company_uses_data_within_its_terms(space: DataSpace) -> list[str]:
    city = space["city"]

    async def call(who: str, method: str, path: str, body: Any) -> tuple[int, Any]:
        return await space.admin("city" if who == "provider" else "company", method, path, body)

    started = await publish_and_start(
        call,
        city.url + "/dsp",
        {
            "title": "Air quality in Murcia: NO2 only",
            "entityTypes": [SDM + "AirQualityObserved"],
            "attributes": [SDM + "NO2", LOCATION],
        },
        TERMS,
        provider_did=city.did,
    )
    lines = [
        "terms: AirQualityObserved only, NO2 + location only, 3 requests, attribute, "
        "delete copies within 30 days",
        f"agreement {started.agreement_id}: PULL transfer STARTED",
    ]
    company = space["company"]
    pull = f"{company.url}/api/v1/pull/{started.transfer_id}/entities"
    headers = {"Authorization": f"Bearer {company.admin_key}", "Link": link_header(SDM_URL)}

    async def get(entity_type: str) -> tuple[int, Any, Any]:
        params = {"type": entity_type, "options": "keyValues"}
        async with space.http.get(pull, params=params, headers=headers) as resp:
            return resp.status, json.loads(await resp.read()), resp.headers

    status, body, answer = await get("AirQualityObserved")
    _expect(status == 200 and len(body) > 0, f"the pull within the terms answered {status}")
    seen = sorted({k for e in body for k in e} - {"id", "type"})
    _expect(seen == ["NO2", "location"], f"the answer was not narrowed: {seen}")
    lines.append(
        f"within its terms: {len(body)} stations, attributes {', '.join(seen)} only "
        "(PM10, PM25, O3, name… withheld)"
    )
    lines.append(f"  attribution sent with the data: {answer.get('Agora-Attribution')}")
    status, body, _ = await get("TrafficFlowObserved")
    _expect(status == 403, f"a forbidden type answered {status}")
    lines.append(f"beyond its terms (TrafficFlowObserved): {status} {body['detail']}")
    for _ in range(2):
        status, body, _ = await get("AirQualityObserved")
        _expect(status == 200, f"a pull within the count answered {status}")
    status, body, _ = await get("AirQualityObserved")
    _expect(status == 403 and "3 were used" in body["detail"], f"count: {status} {body}")
    lines.append(f"the fourth request: {status} {body['detail']}")
    status, received = await space.admin("company", "GET", "/api/v1/received")
    mine = [r for r in received if r["agreementId"] == started.agreement_id]
    _expect(status == 200 and len(mine) == 3, f"received records: {status} {received}")
    lines.append(
        f"the company's connector keeps {len(mine)} received copies, to be deleted by "
        f"{mine[0]['deleteAt']} (the agreement's delete duty)"
    )
    status, ledger = await space.admin(
        "city", "GET", f"/api/v1/ledger/records?agreement={started.agreement_id}"
    )
    decisions = [
        r["record"]["decision"] for r in ledger["records"] if r["record"]["kind"] == "access"
    ]
    _expect(decisions.count("permit") == 3, f"the city's ledger: {decisions}")
    lines.append(
        f"the city's ledger: {len(decisions)} access records "
        f"({decisions.count('permit')} permitted, {decisions.count('deny')} refused)"
    )
    return lines
