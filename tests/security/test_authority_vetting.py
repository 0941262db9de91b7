"""Issue 14, item 8: an auto-approving authority let an applicant pick ``auditor`` or ``civic``
and re-admitted a revoked member. Roles that need vetting stay pending for the operator, and a
revoked member's new request is never admitted automatically; all through HTTP."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from identity import IdentityError, Reason, create_id_token
from tests.trust.conftest import Node, Space, space  # noqa: F401  (the fixture)

AUTO = {"auto_approve": True}


async def _apply_as(authority: Node, applicant: Node, role: str) -> tuple[int, Any]:
    """The raw request an applicant's connector sends, with the role it chose."""
    token = create_id_token(applicant.trust.participant, authority.did)
    return await authority.call(
        "POST",
        "/authority/v1/membership-requests",
        admin=False,
        headers={"Authorization": f"Bearer {token}"},
        json={"name": "Totally An Auditor", "role": role, "country": "ES"},
    )


async def _registry(authority: Node) -> dict[str, Any]:
    status, body = await authority.call("GET", "/registry/participants", admin=False)
    assert status == 200
    return {p["did"]: p for p in body["participants"]}


async def _trusted(authority: Node) -> list[str]:
    status, body = await authority.call("GET", "/registry/trusted-issuers", admin=False)
    assert status == 200
    return [i["did"] for i in body["issuers"]]


@pytest.mark.parametrize("role", ["auditor", "civic", "city"])
async def test_a_self_chosen_privileged_role_waits_for_the_operator(
    space: Space,  # noqa: F811
    role: str,
) -> None:
    authority = await space.add("authority", "authority", identity=AUTO)
    applicant = await space.add("applicant", "company")
    status, body = await _apply_as(authority, applicant, role)
    assert status == 202, body
    assert body["state"] == "pending" and body["role"] == role
    assert "vetted by the operator" in body["detail"]
    # Nothing was issued or delivered, nobody new is listed or trusted.
    assert applicant.did not in await _registry(authority)
    assert await _trusted(authority) == [authority.did]
    assert await applicant.trust.credentials.count() == 0
    _, members = await authority.call("GET", "/api/v1/authority/members?all=1")
    assert members == []


async def test_an_auditor_applying_through_its_connector_is_admitted_only_by_the_operator(
    space: Space,  # noqa: F811
) -> None:
    authority = await space.add("authority", "authority", identity=AUTO)
    auditor = await space.add("auditor", "auditor")
    status, applied = await auditor.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    assert status == 202 and applied["state"] == "pending", applied
    assert applied["credentials"] == []
    # The operator vets it; only then are the auditor's credentials issued and delivered.
    status, approved = await authority.call(
        "POST", f"/api/v1/authority/requests/{applied['requestId']}/approve"
    )
    assert status == 200 and approved["state"] == "approved", approved
    status, membership = await auditor.call("GET", "/api/v1/membership")
    assert status == 200 and membership["state"] == "approved"
    assert "AuditorCredential" in {c["type"] for c in membership["credentials"]}


async def test_a_plain_member_is_still_admitted_automatically(space: Space) -> None:  # noqa: F811
    authority = await space.add("authority", "authority", identity=AUTO)
    company = await space.add("company", "company")
    status, body = await company.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    assert status == 201 and body["state"] == "approved", body
    assert company.did in await _registry(authority)


async def test_revocation_is_sticky(space: Space) -> None:  # noqa: F811
    authority = await space.add("authority", "authority", identity=AUTO)
    city = await space.add("city", "city")
    company = await space.add("company", "company")
    await space.onboard(city, authority)
    await space.onboard(company, authority)
    status, revoked = await authority.call(
        "POST", f"/api/v1/authority/members/{quote(company.did, safe='')}/revoke"
    )
    assert status == 200, revoked
    _, members_before = await authority.call("GET", "/api/v1/authority/members?all=1")
    wallet_before = await company.trust.credentials.summaries()

    # The revoked member applies again, through its connector and with a raw request.
    status, again = await company.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    assert status == 202 and again["state"] == "pending", again
    status, raw = await _apply_as(authority, company, "company")
    assert status == 409, raw  # its pending request stands; it is not admitted either way

    _, requests = await authority.call("GET", "/api/v1/authority/requests?state=pending")
    assert [r["did"] for r in requests] == [company.did]
    assert "revoked" in requests[0]["detail"]
    _, members_after = await authority.call("GET", "/api/v1/authority/members?all=1")
    assert members_after == members_before
    assert {m["did"]: m["state"] for m in members_after}[company.did] == "revoked"
    assert company.did not in await _registry(authority)
    assert await company.trust.credentials.summaries() == wallet_before
    with pytest.raises(IdentityError) as err:
        await city.trust.verify_authorization(f"Bearer {await company.trust.token_for(city.did)}")
    assert err.value.reason is Reason.REVOKED


async def test_a_rejected_applicant_is_not_admitted_by_asking_again(space: Space) -> None:  # noqa: F811
    authority = await space.add("authority", "authority", identity=AUTO)
    applicant = await space.add("applicant", "company")
    status, first = await _apply_as(authority, applicant, "civic")
    assert status == 202 and first["state"] == "pending", first
    status, _ = await authority.call(
        "POST", f"/api/v1/authority/requests/{first['id']}/reject", json={"reason": "unknown"}
    )
    assert status == 200
    # Turned down as a civic group, it asks again as a plain member.
    status, second = await _apply_as(authority, applicant, "company")
    assert status == 202 and second["state"] == "pending", second
    assert "rejected" in second["detail"]
    assert applicant.did not in await _registry(authority)
    assert await applicant.trust.credentials.count() == 0
