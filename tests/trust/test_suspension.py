"""Suspension: the authority sets (and on reinstatement clears) the suspension bit of a
member's credentials in ``/status/suspension-1``; verifiers refuse with reason ``suspended``."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from click.testing import CliRunner, Result

from connector.cli import main
from identity import IdentityError, Reason, verify_credential_jwt
from tests.trust.conftest import Node, Space


async def _cli(*args: str) -> Result:
    # The connectors run on this event loop; the CLI blocks, so it runs in a thread.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


def _problem(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert isinstance(body, dict) and body["status"] == expected and "title" in body


async def _refusal(verifier: Node, member: Node) -> Reason | None:
    token = await member.trust.token_for(verifier.did)
    try:
        accepted = await verifier.trust.verify_authorization(f"Bearer {token}")
    except IdentityError as exc:
        return exc.reason
    assert accepted.did == member.did
    return None


async def _member_call(authority: Node, did: str, action: str) -> tuple[int, Any]:
    return await authority.call("POST", f"/api/v1/authority/members/{quote(did, safe='')}/{action}")


async def test_suspend_and_reinstate(space: Space) -> None:
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    city = await space.add("city", "city")
    extra = await space.add("extra", "company")
    await space.onboard(city, authority)
    await space.onboard(extra, authority)
    assert await _refusal(city, extra) is None

    # Every new credential carries a revocation and a suspension entry, at the same index.
    tokens = await extra.trust.credentials.jwts()
    assert len(tokens) == 2
    for token in tokens:
        vc = await verify_credential_jwt(token, authority.trust.resolver)
        purposes = {s["statusPurpose"]: s for s in vc.status}
        assert set(purposes) == {"revocation", "suspension"}
        assert (
            purposes["suspension"]["statusListCredential"] == f"{authority.url}/status/suspension-1"
        )
        assert (
            purposes["suspension"]["statusListIndex"] == purposes["revocation"]["statusListIndex"]
        )
    status, body = await authority.call("GET", "/status/suspension-1", admin=False)
    assert status == 200 and isinstance(body, str) and body.count(".") == 2

    suspended = await _cli(
        "authority", "suspend", str(authority.directory), extra.did, "--url", authority.url
    )
    assert suspended.exit_code == 0, suspended.output
    assert "2 credential(s)" in suspended.output
    assert await _refusal(city, extra) is Reason.SUSPENDED
    assert await _refusal(extra, city) is None  # only the suspended member is affected
    _, registry = await authority.call("GET", "/registry/participants", admin=False)
    assert extra.did not in {p["did"] for p in registry["participants"]}
    _problem(*await _member_call(authority, extra.did, "suspend"), 409)

    reinstated = await _cli(
        "authority", "reinstate", str(authority.directory), extra.did, "--url", authority.url
    )
    assert reinstated.exit_code == 0, reinstated.output
    assert await _refusal(city, extra) is None
    _, registry = await authority.call("GET", "/registry/participants", admin=False)
    assert extra.did in {p["did"] for p in registry["participants"]}
    _problem(*await _member_call(authority, extra.did, "reinstate"), 409)

    # A suspended member can still be revoked, and a revoked one is never reinstated.
    status, body = await _member_call(authority, extra.did, "suspend")
    assert status == 200 and body["state"] == "suspended", body
    status, body = await _member_call(authority, extra.did, "revoke")
    assert status == 200 and body["state"] == "revoked", body
    assert await _refusal(city, extra) in (Reason.REVOKED, Reason.SUSPENDED)
    _problem(*await _member_call(authority, extra.did, "reinstate"), 409)
    _problem(*await _member_call(authority, extra.did, "suspend"), 409)
    again = await _cli(
        "authority", "reinstate", str(authority.directory), extra.did, "--url", authority.url
    )
    assert again.exit_code != 0 and "409" in again.output


async def test_suspension_of_unknown_members_is_404(space: Space) -> None:
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    for action in ("suspend", "reinstate"):
        _problem(*await _member_call(authority, "did:web:nobody.example", action), 404)
        _problem(*await _member_call(authority, "not-a-did", action), 404)
    missing = await _cli(
        "authority",
        "suspend",
        str(authority.directory),
        "did:web:nobody.example",
        "--url",
        authority.url,
    )
    assert missing.exit_code != 0 and "404" in missing.output
