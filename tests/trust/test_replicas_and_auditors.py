"""Replicas sharing PostgreSQL reject a replayed ID token; auditors read the ledger with DCP."""

from __future__ import annotations

import socket

import pytest

from connector.config import load_settings
from connector.runtime import Connector
from identity import IdentityError, Reason, create_id_token
from tests.trust.conftest import Space


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_replayed_jti_is_refused_by_another_replica(space: Space) -> None:
    pytest.importorskip("asyncpg")
    from tests.conftest import _require_postgres

    _require_postgres()
    space.engine = "postgres"
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    company = await space.add("company", "company")
    await space.onboard(company, authority)

    # Two replicas of the city: one directory, one PostgreSQL database, one public URL (DID).
    port = _free_port()
    city = await space.add("city", "city", port=port, identity={"authority_url": authority.url})
    settings = load_settings(city.directory, env={})
    settings.server.public_url = city.url
    settings.server.port = 0
    replica = Connector(settings)
    await replica.start()
    try:
        assert replica.settings.did == city.did and replica.url == city.url
        assert replica.ctx is not None
        replica_trust = replica.ctx.components["trust"]
        header = f"Bearer {await company.trust.token_for(city.did)}"
        assert (await city.trust.verify_authorization(header)).did == company.did
        with pytest.raises(IdentityError) as err:
            await replica_trust.verify_authorization(header)
        assert err.value.reason is Reason.REPLAYED
        # A fresh token is fine on the other replica.
        fresh = f"Bearer {await company.trust.token_for(city.did)}"
        assert (await replica_trust.verify_authorization(fresh)).did == company.did
    finally:
        await replica.stop()


async def test_auditor_reads_the_ledger_member_gets_403(onboarded: Space) -> None:
    city, company, auditor = onboarded["city"], onboarded["company"], onboarded["auditor"]
    request = {"audience": city.did, "scopes": ["MembershipCredential", "AuditorCredential"]}

    status, minted = await auditor.call("POST", "/api/v1/trust/tokens", json=request)
    assert status == 201, minted
    status, head = await city.call(
        "GET",
        "/api/v1/ledger/tree-head",
        admin=False,
        headers={"Authorization": f"Bearer {minted['token']}"},
    )
    assert status == 200, head
    assert "tree_size" in head or "size" in head

    # The same kind of token on an admin-only route is not even examined.
    _, minted = await auditor.call("POST", "/api/v1/trust/tokens", json=request)
    status, body = await city.call(
        "GET",
        "/api/v1/participant",
        admin=False,
        headers={"Authorization": f"Bearer {minted['token']}"},
    )
    assert status == 401, body

    # A verified member without an AuditorCredential: authenticated, not allowed.
    _, minted = await company.call("POST", "/api/v1/trust/tokens", json=request)
    status, body = await city.call(
        "GET",
        "/api/v1/ledger/tree-head",
        admin=False,
        headers={"Authorization": f"Bearer {minted['token']}"},
    )
    assert status == 403, body
    assert body["status"] == 403
    # and it says what is missing and where to get it
    assert "no AuditorCredential" in body["detail"] and "authority" in body["detail"]

    # A JWT that does not verify: 401 with the reason.
    forged = create_id_token(company.trust.participant, "did:web:someone.else", token="x")
    status, body = await city.call(
        "GET",
        "/api/v1/ledger/tree-head",
        admin=False,
        headers={"Authorization": f"Bearer {forged}"},
    )
    assert status == 401 and body["reason"] == "wrong_audience", body

    # A JWT that is not a DCP token is left to other authenticators (none accepts it here).
    plain = create_id_token(company.trust.participant, city.did)
    status, body = await city.call(
        "GET",
        "/api/v1/ledger/tree-head",
        admin=False,
        headers={"Authorization": f"Bearer {plain}"},
    )
    assert status == 401 and "reason" not in body, body


async def test_verify_endpoint_reports_the_reason(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    token = await company.trust.token_for(city.did)
    status, body = await city.call("POST", "/api/v1/trust/verify", json={"token": token})
    assert status == 200 and body["verified"] and body["did"] == company.did, body
    status, body = await city.call("POST", "/api/v1/trust/verify", json={"token": token})
    assert status == 200 and body == {**body, "verified": False, "reason": "replayed"}
    for bad in (b"{", b"[]", b'{"token": ""}', b'{"token": "x", "more": 1}'):
        status, body = await city.call("POST", "/api/v1/trust/verify", data=bad)
        assert status == 400 and body["status"] == 400, bad
    status, body = await city.call("POST", "/api/v1/trust/verify", admin=False, json={"token": "x"})
    assert status == 401
