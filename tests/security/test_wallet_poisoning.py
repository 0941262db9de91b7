"""Issue 14, item 3: wallet poisoning.

A civic group, trusted to issue ConsentCredential, stored a MembershipCredential about the city
in the city's Credential Service; the city then presented it and every verifier refused it.
Now the storage endpoint accepts only credentials whose issuer is accredited for their type,
that are about the wallet's owner, and that the owner asked for (a pending issuance request);
the owner lists and deletes what is stored through its management API.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from connector.trust.membership_state import load_membership, save_membership
from identity import (
    ConsentCredential,
    MembershipCredential,
    Participant,
    create_id_token,
    issue_credential,
)
from identity.credential_service import DCP_CONTEXT
from tests.trust.conftest import Node, Space, space  # noqa: F401  (the fixture)

PURPOSE = "https://w3id.org/dpv#ServiceProvision"


def _message(payload: str, credential_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "@context": [DCP_CONTEXT],
        "type": "CredentialMessage",
        "status": "ISSUED",
        "credentials": [{"credentialType": credential_type, "payload": payload, "format": "jwt"}],
        **extra,
    }


async def _deliver(holder: Node, issuer: Participant, message: dict[str, Any]) -> tuple[int, Any]:
    token = create_id_token(issuer, holder.did)
    return await holder.call(
        "POST",
        "/dcp/credentials",
        admin=False,
        headers={"Authorization": f"Bearer {token}"},
        json=message,
    )


def _membership(issuer: Participant, subject: str, member_of: str) -> str:
    claims = MembershipCredential(id=subject, memberOf=member_of)
    body = claims.to_credential(
        issuer.did, valid_until=time.time() + 3600, credential_id=f"urn:uuid:{time.time_ns()}"
    )
    return issue_credential(issuer, body)


def _consent(issuer: Participant, subject: str, grantee: str) -> str:
    claims = ConsentCredential(id=subject, residentGroup=True, purpose=PURPOSE, grantee=grantee)
    entry = {
        "id": f"https://civic.example/status/1#{time.time_ns() % 1000}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "3",
        "statusListCredential": "https://civic.example/status/1",
    }
    body = claims.to_credential(
        issuer.did,
        valid_until=time.time() + 3600,
        status=[entry],
        credential_id=f"urn:uuid:{time.time_ns()}",
    )
    return issue_credential(issuer, body)


@pytest.fixture
async def members(space: Space) -> tuple[Node, Node, Node, Node]:  # noqa: F811
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    city = await space.add("city", "city")
    civic = await space.add("civic", "civic")
    company = await space.add("company", "company")
    for node in (city, civic, company):
        await space.onboard(node, authority)
    return authority, city, civic, company


async def _city_still_verifies(city: Node, company: Node) -> None:
    caller = await company.trust.verify_authorization(
        f"Bearer {await city.trust.token_for(company.did)}"
    )
    assert caller.did == city.did


async def test_a_consent_issuer_cannot_store_a_membership_credential(
    members: tuple[Node, Node, Node, Node],
) -> None:
    authority, city, civic, company = members
    wallet = await city.trust.credentials.summaries()
    poisoned = _membership(civic.trust.participant, city.did, authority.did)
    status, body = await _deliver(
        city, civic.trust.participant, _message(poisoned, "MembershipCredential")
    )
    assert status == 403, body
    assert body["reason"] == "credential_type_not_allowed", body
    assert await city.trust.credentials.summaries() == wallet
    await _city_still_verifies(city, company)


async def test_credentials_nobody_asked_for_are_refused(
    members: tuple[Node, Node, Node, Node],
) -> None:
    authority, city, civic, company = members
    wallet = await city.trust.credentials.summaries()
    requests = await city.trust.issuance.list()
    # Of the type the civic group is trusted for, about the city, but the city never asked.
    consent = _consent(civic.trust.participant, city.did, company.did)
    status, body = await _deliver(
        city, civic.trust.participant, _message(consent, "ConsentCredential")
    )
    assert status == 403 and body["reason"] == "not_requested", body
    # The authority itself, after the city's admission closed its request.
    extra = _membership(authority.trust.participant, city.did, authority.did)
    status, body = await _deliver(
        city, authority.trust.participant, _message(extra, "MembershipCredential")
    )
    assert status == 403 and body["reason"] == "not_requested", body
    # About someone else.
    other = _consent(civic.trust.participant, company.did, company.did)
    status, body = await _deliver(
        city, civic.trust.participant, _message(other, "ConsentCredential")
    )
    assert status == 400 and body["reason"] == "invalid_claims", body
    assert await city.trust.credentials.summaries() == wallet
    assert await city.trust.issuance.list() == requests
    await _city_still_verifies(city, company)


async def test_a_requested_credential_is_stored_once(
    members: tuple[Node, Node, Node, Node],
) -> None:
    _, city, civic, company = members
    before = await city.trust.credentials.count()
    request_id = await city.trust.issuance.open(civic.did, ["ConsentCredential"])
    consent = _consent(civic.trust.participant, city.did, company.did)
    wrong_pid = _message(consent, "ConsentCredential", holderPid="not-our-request")
    status, body = await _deliver(city, civic.trust.participant, wrong_pid)
    assert status == 403 and body["reason"] == "not_requested", body
    assert await city.trust.credentials.count() == before

    message = _message(consent, "ConsentCredential", holderPid=request_id)
    status, body = await _deliver(city, civic.trust.participant, message)
    assert status == 200, body
    assert await city.trust.credentials.count() == before + 1
    listed = {r["id"]: r["state"] for r in await city.trust.issuance.list()}
    assert listed[request_id] == "fulfilled"
    # The request is used up: the same delivery again is refused and changes nothing.
    again = _consent(civic.trust.participant, city.did, company.did)
    status, body = await _deliver(
        city, civic.trust.participant, _message(again, "ConsentCredential")
    )
    assert status == 403 and body["reason"] == "not_requested", body
    assert await city.trust.credentials.count() == before + 1


async def test_the_owner_lists_and_deletes_stored_credentials(
    members: tuple[Node, Node, Node, Node],
) -> None:
    authority, city, _, _ = members
    status, listed = await city.call("GET", "/api/v1/trust/credentials")
    assert status == 200 and {c["type"] for c in listed} == {
        "MembershipCredential",
        "ParticipantCredential",
    }
    status, requests = await city.call("GET", "/api/v1/trust/issuance-requests")
    assert status == 200 and [(r["issuer"], r["state"]) for r in requests] == [
        (authority.did, "fulfilled")
    ]
    target = next(c for c in listed if c["type"] == "ParticipantCredential")
    path = f"/api/v1/trust/credentials/{quote(target['id'], safe='')}"
    status, one = await city.call("GET", path)
    assert status == 200 and one["id"] == target["id"] and one["jwt"].count(".") == 2

    # Nobody but the owner: no admin key, no access; nothing removed.
    status, body = await city.call("DELETE", path, admin=False)
    assert status == 401, body
    status, body = await city.call("GET", "/api/v1/trust/credentials", admin=False)
    assert status == 401, body
    assert await city.trust.credentials.count() == 2

    status, body = await city.call("DELETE", path)
    assert status == 204, body
    status, body = await city.call("GET", path)
    assert status == 404 and body["status"] == 404, body
    status, body = await city.call("DELETE", path)
    assert status == 404, body
    status, body = await city.call("DELETE", "/api/v1/trust/credentials/" + "x" * 400)
    assert status == 404, body
    status, listed = await city.call("GET", "/api/v1/trust/credentials")
    assert [c["type"] for c in listed] == ["MembershipCredential"]


async def test_an_application_from_before_the_upgrade_is_still_honoured(
    space: Space,  # noqa: F811
) -> None:
    """A member that applied before issuance requests were recorded (no request row, no
    ``issuance_request`` in its membership state) still receives its authority's credentials,
    and only those."""
    authority = await space.add("authority", "authority")
    member = await space.add("member", "company")
    status, applied = await member.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    assert status == 202, applied
    engine = member.connector.ctx.engine  # type: ignore[union-attr]
    state = await load_membership(engine)
    assert state is not None
    await member.trust.issuance.cancel(state.pop("issuance_request"))
    await save_membership(engine, state)

    status, approved = await authority.call(
        "POST", f"/api/v1/authority/requests/{applied['requestId']}/approve"
    )
    assert status == 200, approved
    assert await member.trust.credentials.count() == 2
    # Admitted now: the legacy allowance is spent.
    extra = _membership(authority.trust.participant, member.did, authority.did)
    status, body = await _deliver(
        member, authority.trust.participant, _message(extra, "MembershipCredential")
    )
    assert status == 403 and body["reason"] == "not_requested", body
    assert await member.trust.credentials.count() == 2


async def test_a_refused_second_application_keeps_the_first_request(space: Space) -> None:  # noqa: F811
    authority = await space.add("authority", "authority")
    member = await space.add("member", "company")
    application = {"authority": authority.url, "country": "ES"}
    status, first = await member.call("POST", "/api/v1/membership", json=application)
    assert status == 202, first
    status, second = await member.call("POST", "/api/v1/membership", json=application)
    assert status == 502 and "pending" in second["detail"], second  # the authority's 409
    states = sorted(r["state"] for r in await member.trust.issuance.list())
    assert states == ["cancelled", "pending"]
    status, approved = await authority.call(
        "POST", f"/api/v1/authority/requests/{first['requestId']}/approve"
    )
    assert status == 200, approved
    assert await member.trust.credentials.count() == 2
    states = sorted(r["state"] for r in await member.trust.issuance.list())
    assert states == ["cancelled", "fulfilled"]
