"""A provider connector with city data and agreements inserted as the DSP would store them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
from sqlalchemy import insert, update

from connector.dsp.agreements import build_agreement
from connector.dsp.process import set_fields
from connector.dsp.runtime import now
from connector.dsp.tables import agreements, datasets, transfers
from connector.runtime import Connector

CONSUMER = "did:web:company.example"
DPV = "https://w3id.org/dpv#"
# A box around Murcia's centre; the air stations at lon -1.13 are inside, -1.30 outside.
MURCIA = {
    "type": "Polygon",
    "coordinates": [[[-1.2, 37.9], [-1.0, 37.9], [-1.0, 38.1], [-1.2, 38.1], [-1.2, 37.9]]],
}


def air(n: int, lon: float = -1.13, lat: float = 37.98) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:AirQualityObserved:{n:03d}",
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": 40 + n},
        "PM10": {"type": "Property", "value": 20 + n},
        "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}},
    }


def parking(n: int) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:ParkingSpot:{n:03d}",
        "type": "ParkingSpot",
        "status": {"type": "Property", "value": "free"},
        "location": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [-1.13, 37.98]},
        },
    }


def c(left: str, op: str, right: Any, **extra: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": op, "rightOperand": right, **extra}


def narrowed_policy(*extra: dict[str, Any], duties: list[Any] | None = None) -> dict[str, Any]:
    """Read AirQualityObserved only, NO2 and location only, within Murcia's box."""
    perm: dict[str, Any] = {
        "action": "use",
        "constraint": [
            c("ngsi-ld:entityType", "isPartOf", ["AirQualityObserved"]),
            c("ngsi-ld:attribute", "isPartOf", ["NO2", "location"]),
            c(
                "ngsi-ld:area",
                "isPartOf",
                {"@value": json.dumps(MURCIA), "@type": "rdf:JSON"},
            ),
            *extra,
        ],
    }
    if duties:
        perm["duty"] = duties
    return {"permission": [perm]}


@dataclass
class Provider:
    connector: Connector
    admin_key: str
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def ctx(self) -> Any:
        assert self.connector.ctx is not None
        return self.connector.ctx

    async def seed(self, entities: list[dict[str, Any]]) -> None:
        async with self.http.post(
            self.url + "/ngsi-ld/v1/entityOperations/upsert",
            json=entities,
            headers={"Authorization": f"Bearer {self.admin_key}"},
        ) as resp:
            assert resp.status in (201, 204), await resp.text()

    async def grant(
        self,
        policy: dict[str, Any],
        *,
        entity_types: list[str] | None = None,
        attributes: list[str] | None = None,
        area: dict[str, Any] | None = None,
        state: str = "STARTED",
        consumer: str = CONSUMER,
        ttl: int = 600,
        credentials: list[dict[str, Any]] | None = None,
    ) -> Grant:
        """A dataset, an agreement on it and a provider-side transfer in ``state``; with
        ``credentials``, the consumer's verified credentials the DSP kept with the agreement."""
        dataset_id = f"urn:uuid:{uuid.uuid4()}"
        agreement = build_agreement(
            {"@id": "urn:uuid:offer", **policy},
            target=dataset_id,
            assigner=self.ctx.settings.did,
            assignee=consumer,
        )
        transfer_id = f"urn:uuid:{uuid.uuid4()}"
        async with self.ctx.engine.begin() as conn:
            await conn.execute(
                insert(datasets).values(
                    id=dataset_id,
                    title="Air quality",
                    description="",
                    entity_types=json.dumps(entity_types or ["AirQualityObserved"]),
                    attributes=json.dumps(attributes) if attributes else None,
                    area=json.dumps(area) if area else None,
                    created_at=now(),
                )
            )
            await conn.execute(
                insert(agreements).values(
                    id=agreement["@id"],
                    negotiation_pid=f"urn:uuid:{uuid.uuid4()}",
                    provider_did=self.ctx.settings.did,
                    consumer_did=consumer,
                    target=dataset_id,
                    agreement=json.dumps(agreement),
                    signature=None,
                    consumer_credentials=json.dumps(credentials) if credentials else None,
                    created_at=now(),
                )
            )
            await conn.execute(
                insert(transfers).values(
                    pid=transfer_id,
                    role="provider",
                    provider_pid=transfer_id,
                    consumer_pid=f"urn:uuid:{uuid.uuid4()}",
                    state=state,
                    agreement_id=agreement["@id"],
                    format="NGSI-LD-PULL",
                    counterparty_did=consumer,
                    counterparty_address="http://127.0.0.1:9/dsp",
                    created_at=now(),
                    updated_at=now(),
                )
            )
        token, _ = self.ctx.components["dsp"].tokens.issue(
            agreement_id=agreement["@id"], transfer_id=transfer_id, consumer_did=consumer, ttl=ttl
        )
        return Grant(self, agreement["@id"], transfer_id, token)


@dataclass
class Grant:
    provider: Provider
    agreement_id: str
    transfer_id: str
    token: str

    async def set_state(self, state: str) -> None:
        """Move the transfer the way the DSP does (its transaction tells its listeners)."""
        dsp = self.provider.ctx.components["dsp"]
        async with dsp.transaction() as conn:
            await set_fields(conn, transfers, "transfer", self.transfer_id, state=state)

    async def set_state_around_the_connector(self, state: str) -> None:
        """Change the state with plain SQL, as an operator editing the database would."""
        async with self.provider.ctx.engine.begin() as conn:
            await conn.execute(
                update(transfers).where(transfers.c.pid == self.transfer_id).values(state=state)
            )

    async def call(
        self, method: str, path: str, *, token: str | None = None, **kw: Any
    ) -> tuple[int, Any, Any]:
        """(status, parsed body or None, headers) of an NGSI-LD call with the access token."""
        headers = {"Authorization": f"Bearer {token or self.token}", **kw.pop("headers", {})}
        url = self.provider.url + "/ngsi-ld/v1" + path
        async with self.provider.http.request(method, url, headers=headers, **kw) as resp:
            raw = await resp.read()
            body = json.loads(raw) if raw else None
            return resp.status, body, resp.headers


async def ledger_records(provider: Provider, agreement_id: str) -> list[dict[str, Any]]:
    """The provider's provenance records under ``agreement_id`` (management API)."""
    async with provider.http.get(
        provider.url + "/api/v1/ledger/records",
        params={"agreement": agreement_id},
        headers={"Authorization": f"Bearer {provider.admin_key}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        body = await resp.json()
    return [r["record"] for r in body["records"]]
