"""Sender-constrained pull tokens (DPoP, RFC 9449): a bound token is good only with a fresh
proof by the consumer's key; bearer tokens, the default, work as before."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connector.config import load_settings
from connector.enforcement.flow import publish_and_start
from connector.participant import read_admin_key
from connector.runtime import Connector
from identity.dpop import create_proof, key_thumbprint
from identity.keys import SigningKey
from tests.enforcement.helpers import (
    CONSUMER,
    Grant,
    Provider,
    air,
    ledger_records,
    narrowed_policy,
)

QUERY = {"type": "AirQualityObserved"}


async def bound(provider: Provider, key: SigningKey) -> Grant:
    """A STARTED transfer whose token is bound to ``key`` (as a DPoP offer's would be)."""
    g = await provider.grant(narrowed_policy())
    token, _ = provider.ctx.components["dsp"].tokens.issue(
        agreement_id=g.agreement_id,
        transfer_id=g.transfer_id,
        consumer_did=CONSUMER,
        jkt=key_thumbprint(key),
    )
    return Grant(provider, g.agreement_id, g.transfer_id, token)


async def dpop_get(
    g: Grant, proof: str | None, *, scheme: str = "DPoP", path: str = "/entities"
) -> tuple[int, Any, Any]:
    headers = {"Authorization": f"{scheme} {g.token}"}
    if proof is not None:
        headers["DPoP"] = proof
    url = g.provider.url + "/ngsi-ld/v1" + path
    params = QUERY if path == "/entities" else {}  # /types takes no type parameter
    async with g.provider.http.get(url, params=params, headers=headers) as resp:
        raw = await resp.read()
        return resp.status, json.loads(raw) if raw else None, resp.headers


def proof_for(g: Grant, key: SigningKey, **kw: Any) -> str:
    args: dict[str, Any] = {
        "method": "GET",
        "url": g.provider.url + "/ngsi-ld/v1/entities",
        "access_token": g.token,
    }
    args.update(kw)
    return create_proof(key, **args)


def refused_proof(status: int, body: Any, headers: Any, *words: str) -> None:
    assert status == 401, body
    assert headers["WWW-Authenticate"].startswith("DPoP ")
    assert 'error="invalid_dpop_proof"' in headers["WWW-Authenticate"]
    for word in words:
        assert word in body["detail"], body


async def test_bound_token_needs_a_proof_by_the_bound_key(provider: Provider) -> None:
    key = SigningKey.generate()
    g = await bound(provider, key)

    # presented as a bearer token, or as DPoP without a proof: refused
    status, body, headers = await g.call("GET", "/entities", params=QUERY)
    assert status == 401 and "DPoP" in body["detail"]
    assert headers["WWW-Authenticate"].startswith("DPoP ")
    refused_proof(*await dpop_get(g, None), "exactly one DPoP header")

    # signed by another key (a thief's), even with every claim right
    thief = SigningKey.generate()
    refused_proof(*await dpop_get(g, proof_for(g, thief)), "another key")

    # for another resource, method, server or token; too old; not a proof at all
    other = provider.url + "/ngsi-ld/v1/types"
    refused_proof(*await dpop_get(g, proof_for(g, key, url=other)), "/ngsi-ld/v1/types")
    refused_proof(*await dpop_get(g, proof_for(g, key, method="POST")), "POST")
    elsewhere = "http://127.0.0.2:9/ngsi-ld/v1/entities"
    refused_proof(*await dpop_get(g, proof_for(g, key, url=elsewhere)), "127.0.0.2")
    refused_proof(*await dpop_get(g, proof_for(g, key, access_token="another")), "ath")
    old = proof_for(g, key, now=time.time() - 3600)
    refused_proof(*await dpop_get(g, old), "older than")
    refused_proof(*await dpop_get(g, "not-a-jwt"), "not a JWT")
    # nothing of this reached the data or the ledger
    assert await ledger_records(provider, g.agreement_id) == []

    # the right proof opens the data plane, once: its jti cannot be replayed
    proof = proof_for(g, key)
    status, body, _ = await dpop_get(g, proof)
    assert status == 200, body
    assert {e["id"] for e in body} == {air(n)["id"] for n in range(1, 4)}
    refused_proof(*await dpop_get(g, proof), "replayed")
    assert len(await ledger_records(provider, g.agreement_id)) == 1

    # a fresh proof for the next request works again; the query string is not part of htu
    status, _, _ = await dpop_get(g, proof_for(g, key, url=other + "?x=1"), path="/types")
    assert status == 200


async def test_bearer_tokens_are_unchanged(provider: Provider) -> None:
    g = await provider.grant(narrowed_policy())
    status, body, _ = await g.call("GET", "/entities", params=QUERY)
    assert status == 200 and len(body) == 3
    # a bearer token is not turned into a DPoP one by a proof the provider never asked for
    status, body, headers = await dpop_get(g, proof_for(g, SigningKey.generate()))
    assert status == 401 and "bearer token" in body["detail"]
    assert headers["WWW-Authenticate"].startswith("Bearer")


# -- over DSP, through the consumer's pull proxy ----------------------------------------------


@pytest.fixture
async def pair(participant_dir: Callable[..., Path]) -> AsyncIterator[tuple[Provider, Provider]]:
    dev = {"dsp": {"authentication": "self-issued"}}
    city_dir = participant_dir(name="City of Murcia", role="city", extra_settings=dev)
    company_dir = participant_dir(name="Movilidad Sostenible", role="company", extra_settings=dev)
    city = Connector(load_settings(city_dir, env={}))
    company = Connector(load_settings(company_dir, env={}))
    await city.start()
    await company.start()
    try:
        async with aiohttp.ClientSession() as http:
            provider = Provider(city, read_admin_key(city_dir), http)
            consumer = Provider(company, read_admin_key(company_dir), http)
            await provider.seed([air(n) for n in range(1, 4)])
            yield provider, consumer
    finally:
        await company.stop()
        await city.stop()


async def _start(pair: tuple[Provider, Provider], offer: dict[str, Any]) -> tuple[Any, Any]:
    provider, consumer = pair

    async def call(who: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        node = provider if who == "provider" else consumer
        headers = {"Authorization": f"Bearer {node.admin_key}"}
        async with node.http.request(method, node.url + path, json=body, headers=headers) as r:
            raw = await r.read()
            return r.status, json.loads(raw) if raw else None

    started = await publish_and_start(
        call,
        provider.url + "/dsp",
        {"title": "Air quality", "entityTypes": ["AirQualityObserved"]},
        {"permission": [{"action": "use"}]},
        offer_settings=offer,
    )
    status, transfer = await call("consumer", "GET", f"/api/v1/transfers/{started.transfer_id}")
    assert status == 200
    props = {p["name"]: p["value"] for p in transfer["dataAddress"]["endpointProperties"]}
    return started, props


async def _pull(consumer: Provider, transfer_id: str) -> tuple[int, Any]:
    url = f"{consumer.url}/api/v1/pull/{transfer_id}/entities"
    headers = {"Authorization": f"Bearer {consumer.admin_key}"}
    async with consumer.http.get(url, params=QUERY, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_dpop_offer_binds_the_token_and_the_pull_proxy_proves(
    pair: tuple[Provider, Provider],
) -> None:
    provider, consumer = pair
    started, props = await _start(pair, {"tokenBinding": "dpop"})
    assert props["authType"] == "dpop"
    # the consumer's connector signs a proof for each pull: two pulls, two fresh proofs
    for _ in range(2):
        status, body = await _pull(consumer, started.transfer_id)
        assert status == 200, body
        assert len(body) == 3
    # the token alone, as anyone who copied it would send it, opens nothing
    async with provider.http.get(
        started.endpoint + "/entities",
        params=QUERY,
        headers={"Authorization": f"Bearer {started.token}"},
    ) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("DPoP ")
    records = await ledger_records(provider, started.agreement_id)
    accesses = [r for r in records if r["kind"] == "access"]
    # the two pulls; the refused copy named no agreement we trust
    assert [r["decision"] for r in accesses] == ["permit", "permit"]


async def test_bearer_offer_keeps_bearer_tokens(pair: tuple[Provider, Provider]) -> None:
    provider, consumer = pair
    started, props = await _start(pair, {})
    assert props["authType"] == "bearer"
    assert (await _pull(consumer, started.transfer_id))[0] == 200
    async with provider.http.get(
        started.endpoint + "/entities",
        params=QUERY,
        headers={"Authorization": f"Bearer {started.token}"},
    ) as resp:
        assert resp.status == 200
