"""Constraints on the consumer's verified credentials (credentialType, role, claim, consent) are
decided on every data-plane request, from the credentials the provider kept with the agreement
when it negotiated; an expired ConsentCredential stops access at once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connector.dsp import messages as m
from connector.dsp.tables import agreements
from tests.dsp.helpers import Node, negotiate, running_pair, wait_for
from tests.enforcement.helpers import CONSUMER, DPV, Provider, c, narrowed_policy

QUERY = {"type": "AirQualityObserved"}
AGORA = "https://w3id.org/agora/policy#"
RESEARCH = DPV + "AcademicResearch"


def soon(seconds: int) -> datetime:
    """A validity end ``seconds`` from now, in whole seconds as credentials state it."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


def stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def participant(role: str, *, holder: str = CONSUMER) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "ParticipantCredential"],
        "issuer": "did:web:authority.example",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": holder, "role": role, "country": "ES"},
    }


def consent(until: datetime, *, holder: str = CONSUMER) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "ConsentCredential"],
        "issuer": "did:web:residents.example",
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": stamp(until),
        "credentialSubject": {
            "id": "did:web:residents.example:group:1",
            "residentGroup": True,
            "purpose": RESEARCH,
            "grantee": holder,
        },
    }


ROLE = c("agora:role", "eq", "company")
COUNTRY = c("agora:claim", "eq", "ES", **{AGORA + "claimPath": "$.credentialSubject.country"})
CONSENT = c("agora:consent", "eq", RESEARCH)


async def test_role_and_claim_constraints_read_the_kept_credentials(provider: Provider) -> None:
    allowed = await provider.grant(
        narrowed_policy(ROLE, COUNTRY), credentials=[participant("company")]
    )
    status, body, _ = await allowed.call("GET", "/entities", params=QUERY)
    assert status == 200, body
    other_role = await provider.grant(
        narrowed_policy(ROLE, COUNTRY), credentials=[participant("civic")]
    )
    status, body, _ = await other_role.call("GET", "/entities", params=QUERY)
    assert status == 403, body
    assert "role" in body["detail"] and "company" in body["detail"], body
    none_kept = await provider.grant(narrowed_policy(c("agora:credentialType", "eq", "X")))
    status, body, _ = await none_kept.call("GET", "/entities", params=QUERY)
    assert status == 403, body


async def test_an_expired_consent_stops_access(provider: Provider) -> None:
    until = soon(2)
    g = await provider.grant(narrowed_policy(CONSENT), credentials=[consent(until)])
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 200, body
    deadline = asyncio.get_running_loop().time() + 30
    while status == 200 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 403, body
    assert datetime.now(UTC) > until  # refused only once the consent had expired
    assert "consent" in body["detail"].lower() and "ConsentCredential expired" in body["detail"]


class FixedCredentials:
    """The DCP credential-fetching seam of the self-issued authenticator, handing over the
    credentials the trust component would have verified for the caller."""

    def __init__(self, credentials: list[dict[str, Any]]) -> None:
        self.credentials_ = credentials

    async def credentials(self, did: str, claims: dict[str, Any]) -> tuple[dict[str, Any], ...]:
        return tuple(self.credentials_)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[Node, Node]]:
    async with running_pair(tmp_path) as nodes:
        yield nodes


async def test_negotiated_credentials_are_enforced_on_pulls(pair: tuple[Node, Node]) -> None:
    city, company = pair
    until = soon(3)
    held = [participant("company", holder=company.did), consent(until, holder=company.did)]
    city.dsp.authenticator.fetcher = FixedCredentials(held)  # type: ignore[attr-defined]
    policy = {"permission": [{"action": "use", "constraint": [ROLE, CONSENT]}]}
    mine, _ = await negotiate(city, company, policy)
    assert mine["state"] == "FINALIZED", mine
    assert city.connector.ctx is not None
    async with city.connector.ctx.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(agreements.c.consumer_credentials).where(
                    agreements.c.id == mine["agreementId"]
                )
            )
        ).scalar_one()
    assert json.loads(kept) == held

    status, tr = await company.admin(
        "POST", "/transfers", {"agreementId": mine["agreementId"], "format": "NGSI-LD-PULL"}
    )
    assert status == 201, tr
    started = await wait_for(company.transfer, tr["id"], {"STARTED"}, field="dataAddress")
    token = m.endpoint_properties(started["dataAddress"])["authorization"]

    async def pull() -> tuple[int, Any]:
        async with company.http.get(
            city.url + "/ngsi-ld/v1/entities",
            params=QUERY,
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            return resp.status, await resp.json()

    status, body = await pull()
    assert status == 200, body
    deadline = asyncio.get_running_loop().time() + 30
    while status == 200 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.25)
        status, body = await pull()
    assert status == 403 and datetime.now(UTC) > until, body
    assert "consent" in body["detail"].lower() and "ConsentCredential expired" in body["detail"]


async def test_without_credential_constraints_nothing_is_kept(pair: tuple[Node, Node]) -> None:
    city, company = pair
    city.dsp.authenticator.fetcher = FixedCredentials(  # type: ignore[attr-defined]
        [participant("company", holder=company.did)]
    )
    mine, _ = await negotiate(city, company)
    assert city.connector.ctx is not None
    async with city.connector.ctx.engine.connect() as conn:
        kept = (
            await conn.execute(
                select(agreements.c.consumer_credentials).where(
                    agreements.c.id == mine["agreementId"]
                )
            )
        ).scalar_one()
    assert kept is None
