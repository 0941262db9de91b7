"""The demo's trust steps: members join through the authority, DCP tokens verify, revocation
bites. Each step drives the connectors through their HTTP APIs only."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from connector.demo.space import DataSpace

JOINING = ("city", "company", "auditor")
THROWAWAY = ("startup", "Short-Lived Startup S.L.", "company")
AUDIT_SCOPES = ["MembershipCredential", "AuditorCredential"]


class TrustStepFailed(Exception):
    """The data space did not do what its trust layer promises."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise TrustStepFailed(message)


async def _join(space: DataSpace, key: str) -> dict[str, Any]:
    status, state = await space.admin(key, "GET", "/api/v1/membership")
    if status == 200 and state["state"] == "approved" and state["credentials"]:
        return dict(state)  # a demo directory reused: already a member
    status, state = await space.admin(
        key,
        "POST",
        "/api/v1/membership",
        json={"authority": space["authority"].url, "country": "ES"},
    )
    _expect(status in (201, 202), f"{space[key].name} could not apply: {status} {state}")
    if state["state"] == "pending":
        # A city or an auditor is vetted: the authority's operator approves it in person.
        status, approved = await space.admin(
            "authority", "POST", f"/api/v1/authority/requests/{state['requestId']}/approve"
        )
        _expect(status == 200, f"the operator could not approve {space[key].name}: {approved}")
        status, state = await space.admin(key, "GET", "/api/v1/membership")
    _expect(state["state"] == "approved", f"{space[key].name} is {state['state']}")
    return dict(state)


async def _token(space: DataSpace, holder: str, audience: str, scopes: list[str]) -> str:
    status, body = await space.admin(
        holder, "POST", "/api/v1/trust/tokens", json={"audience": audience, "scopes": scopes}
    )
    _expect(status == 201, f"{space[holder].name} could not mint a token: {status} {body}")
    return str(body["token"])


async def _verify(space: DataSpace, verifier: str, token: str) -> dict[str, Any]:
    status, body = await space.admin(
        verifier, "POST", "/api/v1/trust/verify", json={"token": token}
    )
    _expect(status == 200, f"{space[verifier].name} could not run the check: {status} {body}")
    return dict(body)


async def members_join(space: DataSpace) -> list[str]:
    lines = []
    for key in JOINING:
        state = await _join(space, key)
        types = ", ".join(c["type"] for c in state["credentials"])
        lines.append(f"{space[key].name}: {state['state']} — holds {types}")
    status, registry = await space.admin("authority", "GET", "/registry/participants")
    _expect(status == 200, f"registry answered {status}")
    lines.append(
        f"registry lists {len(registry['participants'])} members at /registry/participants"
    )
    return lines


async def dcp_tokens_verify(space: DataSpace) -> list[str]:
    city, company = space["city"], space["company"]
    token = await _token(
        space, "company", city.did, ["MembershipCredential", "ParticipantCredential"]
    )
    result = await _verify(space, "city", token)
    _expect(result["verified"], f"the city refused the company: {result}")
    _expect(result["did"] == company.did, "the city verified someone else")
    legal = next(c["legalName"] for c in result["claims"] if "legalName" in c)
    lines = [
        f"the city asked {company.name}'s credential service and verified {legal} "
        f"({len(result['credentials'])} credentials: signature, status, trusted issuer)"
    ]
    for holder, expected in (("auditor", 200), ("company", 403)):
        token = await _token(space, holder, city.did, AUDIT_SCOPES)
        async with space.http.get(
            city.url + "/api/v1/ledger/tree-head", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            _expect(resp.status == expected, f"{holder} read the ledger: {resp.status}")
        lines.append(f"{space[holder].name} reads the city's ledger tree head: {resp.status}")
    return lines


async def revocation_bites(space: DataSpace) -> list[str]:
    key, name, role = THROWAWAY
    member = await space.add(key, name, role)
    await _join(space, key)
    city = space["city"]
    before = await _verify(space, "city", await _token(space, key, city.did, []))
    _expect(before["verified"], f"{name} was refused before revocation: {before}")
    status, revoked = await space.admin(
        "authority", "POST", f"/api/v1/authority/members/{quote(member.did, safe='')}/revoke"
    )
    _expect(status == 200, f"revocation answered {status} {revoked}")
    await asyncio.sleep(space.status_list_ttl_s)  # verifiers' status-list cache
    after = await _verify(space, "city", await _token(space, key, city.did, []))
    _expect(not after["verified"] and after["reason"] == "revoked", f"after revocation: {after}")
    return [
        f"{name} joined and was verified by the city",
        f"the authority revoked it ({len(revoked['revokedCredentials'])} status bits flipped)",
        f"the city now refuses its token: reason '{after['reason']}'",
    ]
