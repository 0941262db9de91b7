"""Only a valid token of a STARTED transfer opens the data plane; every failure says why."""

from __future__ import annotations

import asyncio
import time

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connector.dsp.access_tokens import TOKEN_TYP
from tests.enforcement.helpers import Provider, ledger_records, narrowed_policy

QUERY = {"type": "AirQualityObserved"}


async def test_suspension_and_termination_revoke_at_once(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, _, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    await g.set_state("SUSPENDED")
    status, body, headers = await g.call("GET", "/entities", params=QUERY)
    assert status == 401 and "SUSPENDED" in body["detail"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    await g.set_state("STARTED")
    status, _, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 200
    await g.set_state("TERMINATED")
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 401 and "TERMINATED" in body["detail"]
    # a change made around the connector (SQL by hand) is seen within KNOWN_FOR_S
    await g.set_state("STARTED")
    assert (await g.call("GET", "/entities", params=QUERY))[0] == 200
    await g.set_state_around_the_connector("SUSPENDED")
    deadline = time.monotonic() + 30
    while (await g.call("GET", "/entities", params=QUERY))[0] != 401:
        assert time.monotonic() < deadline, "an edited state was never read again"
        await asyncio.sleep(0.2)
    # a transfer that never started
    pending = await provider.grant(narrowed_policy(), state="REQUESTED")
    status, body, _ = await pending.call("GET", "/entities", params=QUERY)
    assert status == 401 and "REQUESTED" in body["detail"]


async def test_expired_tampered_foreign_and_missing_tokens(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    expired = await provider.grant(narrowed_policy(), ttl=-5)
    status, body, _ = await expired.call("GET", "/entities", params=QUERY)
    assert status == 401 and "expired" in body["detail"]

    head, payload, signature = g.token.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for bad in (f"{head}.{flipped}.{signature}", g.token[:-4] + "AAAA", "not-a-jwt"):
        status, body, _ = await g.call("GET", "/entities", params=QUERY, token=bad)
        assert status == 401, bad
        assert "invalid access token" in body["detail"] or "not a transfer" in body["detail"]

    # a token another connector issued (its own key and DID) for the same agreement
    other = "did:web:other-city.example"
    now = int(time.time())
    foreign = jwt.encode(
        {
            "iss": other,
            "aud": other,
            "sub": "did:web:company.example",
            "agreementId": g.agreement_id,
            "transferId": g.transfer_id,
            "iat": now,
            "exp": now + 60,
        },
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"typ": TOKEN_TYP, "kid": other + "#key-1"},
    )
    status, body, _ = await g.call("GET", "/entities", params=QUERY, token=foreign)
    assert status == 401 and "invalid access token" in body["detail"]

    # a DSP-signed token naming a transfer of another agreement
    another = await provider.grant(narrowed_policy())
    dsp = provider.ctx.components["dsp"]
    mixed, _ = dsp.tokens.issue(
        agreement_id=g.agreement_id,
        transfer_id=another.transfer_id,
        consumer_did="did:web:company.example",
    )
    status, body, _ = await g.call("GET", "/entities", params=QUERY, token=mixed)
    assert status == 401 and "no such transfer" in body["detail"]

    async with provider.http.get(provider.url + "/ngsi-ld/v1/entities", params=QUERY) as resp:
        assert resp.status == 401

    # unauthenticated attempts are not ledger records (they name no agreement we can trust)
    assert await ledger_records(provider, g.agreement_id) == []
