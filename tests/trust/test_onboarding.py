"""Onboarding end to end (request -> approve -> credentials delivered -> verified), the
registry, revocation, and the refusals of the authority's endpoints."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from click.testing import CliRunner, Result

from connector.cli import main
from identity import (
    IdentityError,
    MembershipCredential,
    ParticipantCredential,
    Reason,
    create_id_token,
)
from tests.trust.conftest import Node, Space


async def _cli(*args: str) -> Result:
    # The connectors run on this event loop; the CLI blocks, so it runs in a thread.
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


def _problem(status: int, body: Any, expected: int) -> None:
    assert status == expected, body
    assert isinstance(body, dict) and body["status"] == expected and "title" in body


async def test_onboarding_end_to_end(any_space: Space) -> None:
    space = any_space
    authority = await space.add("authority", "authority")
    company = await space.add("company", "company", name="Movilidad Sostenible S.L.")
    city = await space.add("city", "city", name="City of Murcia")

    status, applied = await company.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    assert status == 202 and applied["state"] == "pending", applied
    assert applied["credentials"] == []
    listed = await _cli("authority", "list", str(authority.directory), "--url", authority.url)
    assert listed.exit_code == 0, listed.output
    assert applied["requestId"] in listed.output and "pending" in listed.output

    approved = await _cli(
        "authority",
        "approve",
        str(authority.directory),
        applied["requestId"],
        "--url",
        authority.url,
    )
    assert approved.exit_code == 0, approved.output
    assert "Movilidad Sostenible" in approved.output

    status, membership = await company.call("GET", "/api/v1/membership")
    assert status == 200 and membership["state"] == "approved"
    types = sorted(c["type"] for c in membership["credentials"])
    assert types == ["MembershipCredential", "ParticipantCredential"]
    assert all(c["issuer"] == authority.did for c in membership["credentials"])

    # The city joins through the management API approval.
    _, city_applied = await city.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    status, body = await authority.call(
        "POST", f"/api/v1/authority/requests/{city_applied['requestId']}/approve"
    )
    assert status == 200 and body["state"] == "approved", body

    status, registry = await authority.call("GET", "/registry/participants", admin=False)
    assert status == 200
    by_did = {p["did"]: p for p in registry["participants"]}
    assert by_did[company.did]["dspEndpoint"] == company.url + "/dsp"
    assert by_did[company.did]["role"] == "company" and by_did[city.did]["role"] == "city"
    status, trusted = await authority.call("GET", "/registry/trusted-issuers", admin=False)
    assert status == 200 and trusted["issuers"][0]["did"] == authority.did

    # The city verifies the company: ID token -> its credential service -> credentials.
    caller = await city.trust.verify_authorization(
        f"Bearer {await company.trust.token_for(city.did)}"
    )
    assert caller.did == company.did
    participant = caller.get(ParticipantCredential)
    assert participant is not None and participant.legal_name == "Movilidad Sostenible S.L."
    membership_claims = caller.get(MembershipCredential)
    assert membership_claims is not None and membership_claims.member_of == authority.did


async def test_civic_member_becomes_a_consent_issuer(space: Space) -> None:
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    civic = await space.add("civic", "civic")
    body = await space.onboard(civic, authority)
    assert body["state"] == "approved" and len(body["credentials"]) == 2
    _, trusted = await authority.call("GET", "/registry/trusted-issuers", admin=False)
    civic_entry = [i for i in trusted["issuers"] if i["did"] == civic.did]
    assert civic_entry and civic_entry[0]["accreditations"][0]["credentialTypes"] == [
        "ConsentCredential"
    ]


async def test_revocation_is_refused_with_reason_revoked(space: Space) -> None:
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    city = await space.add("city", "city")
    extra = await space.add("extra", "company")
    await space.onboard(city, authority)
    await space.onboard(extra, authority)
    assert (
        await city.trust.verify_authorization(f"Bearer {await extra.trust.token_for(city.did)}")
    ).did == extra.did

    revoked = await _cli(
        "authority", "revoke", str(authority.directory), extra.did, "--url", authority.url
    )
    assert revoked.exit_code == 0, revoked.output
    assert "2 credential(s)" in revoked.output

    try:
        await city.trust.verify_authorization(f"Bearer {await extra.trust.token_for(city.did)}")
        raise AssertionError("a revoked member was accepted")
    except IdentityError as exc:
        assert exc.reason is Reason.REVOKED
    _, registry = await authority.call("GET", "/registry/participants", admin=False)
    assert extra.did not in {p["did"] for p in registry["participants"]}
    status, body = await authority.call(
        "POST", f"/api/v1/authority/members/{quote(extra.did, safe='')}/revoke"
    )
    _problem(status, body, 409)
    again = await _cli(
        "authority", "revoke", str(authority.directory), extra.did, "--url", authority.url
    )
    assert again.exit_code != 0 and "409" in again.output


async def _apply(
    authority: Node, member: Node, body: Any, raw: bytes | None = None
) -> tuple[int, Any]:
    token = create_id_token(member.trust.participant, authority.did)
    kw: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
    return await authority.call(
        "POST",
        "/authority/v1/membership-requests",
        admin=False,
        headers={"Authorization": f"Bearer {token}"},
        **kw,
    )


async def test_authority_refuses_bad_requests_and_stores_nothing(space: Space) -> None:
    authority = await space.add("authority", "authority")
    member = await space.add("member", "company")
    good = {"name": "Acme", "role": "company", "country": "ES"}
    status, body = await authority.call(
        "POST", "/authority/v1/membership-requests", admin=False, json=good
    )
    _problem(status, body, 401)
    assert body["reason"] == "malformed"
    _problem(*await _apply(authority, member, None, raw=b"{bad json"), 400)
    _problem(*await _apply(authority, member, {"name": "Acme"}), 400)
    _problem(*await _apply(authority, member, {**good, "role": "authority"}), 400)
    _problem(*await _apply(authority, member, {**good, "country": "Spain"}), 400)
    _problem(*await _apply(authority, member, {**good, "extra": 1}), 400)
    _problem(*await _apply(authority, member, None, raw=b"[" * 100 + b"]" * 100), 400)
    status, body = await _apply(authority, member, None, raw=b"{" + b" " * (2 * 1024 * 1024))
    assert status == 413, body
    status, requests = await authority.call("GET", "/api/v1/authority/requests")
    assert status == 200 and requests == []

    # Management endpoints: unknown ids, bad filters, no admin key.
    _problem(*await authority.call("POST", "/api/v1/authority/requests/abc123/approve"), 404)
    _problem(*await authority.call("POST", "/api/v1/authority/requests/a.b/approve"), 404)
    _problem(*await authority.call("POST", "/api/v1/authority/requests/abc123/reject"), 404)
    _problem(*await authority.call("GET", "/api/v1/authority/requests?state=odd"), 400)
    unknown = quote("did:web:nobody.example", safe="")
    _problem(*await authority.call("POST", f"/api/v1/authority/members/{unknown}/revoke"), 404)
    _problem(
        *await authority.call("POST", "/api/v1/authority/requests/abc/approve", admin=False), 401
    )
    missing = await _cli(
        "authority", "approve", str(authority.directory), "nope", "--url", authority.url
    )
    assert missing.exit_code != 0 and "404" in missing.output

    # A pending request, then a duplicate, then a rejection with a malformed body.
    status, created = await _apply(authority, member, good)
    assert status == 202 and created["state"] == "pending"
    _problem(*await _apply(authority, member, good), 409)
    _problem(
        *await authority.call(
            "POST", f"/api/v1/authority/requests/{created['id']}/reject", data=b"{x"
        ),
        400,
    )
    status, rejected = await authority.call(
        "POST", f"/api/v1/authority/requests/{created['id']}/reject", json={"reason": "unknown"}
    )
    assert status == 200 and rejected["state"] == "rejected"
    _problem(
        *await authority.call("POST", f"/api/v1/authority/requests/{created['id']}/approve"), 409
    )
    _, members = await authority.call("GET", "/api/v1/authority/members?all=true")
    assert members == []


async def test_member_side_refuses_bad_applications(space: Space) -> None:
    member = await space.add("member", "company")
    for body in (
        {},
        {"authority": "ftp://x"},
        {"authority": "http://127.0.0.1:9", "country": "es"},
    ):
        _problem(*await member.call("POST", "/api/v1/membership", json=body), 400)
    _problem(*await member.call("POST", "/api/v1/membership", data=b"{x"), 400)
    # No country given and none in the profile.
    _problem(
        *await member.call("POST", "/api/v1/membership", json={"authority": "http://127.0.0.1:9"}),
        400,
    )
    # The authority cannot be reached.
    _problem(
        *await member.call(
            "POST", "/api/v1/membership", json={"authority": "http://127.0.0.1:9", "country": "ES"}
        ),
        502,
    )
    _problem(*await member.call("GET", "/api/v1/membership"), 404)
    _problem(*await member.call("POST", "/api/v1/membership", admin=False, json={}), 401)
    _problem(*await member.call("POST", "/api/v1/trust/tokens", json={"audience": "nope"}), 400)
    assert await member.trust.credentials.count() == 0


async def test_approval_is_claimed_once_and_retryable_after_a_failure(space: Space) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    authority = await space.add("authority", "authority")
    member = await space.add("member", "company", port=port)
    applied = await space.onboard(member, authority)
    path = f"/api/v1/authority/requests/{applied['requestId']}/approve"

    await space.stop("member")  # its DID document cannot be fetched now
    status, body = await authority.call("POST", path)
    _problem(status, body, 422)
    _, listed = await authority.call("GET", "/api/v1/authority/requests?state=failed")
    assert [r["id"] for r in listed] == [applied["requestId"]]

    member = await space.start("member")
    first, second = await asyncio.gather(authority.call("POST", path), authority.call("POST", path))
    assert sorted([first[0], second[0]]) == [200, 409], (first, second)
    assert await member.trust.credentials.count() == 2
    _, members = await authority.call("GET", "/api/v1/authority/members")
    assert [m["did"] for m in members] == [member.did]


async def test_joining_from_the_cli_alone(space: Space) -> None:
    """init --country, join, authority list / reject / approve: no API call by hand."""
    import tomli_w

    from tests.trust.conftest import TEST_IDENTITY

    authority = await space.add("authority", "authority")
    made = await _cli(
        "init", str(space.root / "company"), "--name", "Movilidad S.L.", "--role", "company",
        "--port", "0", "--dev", "--country", "es",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    with (space.root / "company" / "agora.toml").open("a") as fh:
        fh.write(tomli_w.dumps({"identity": TEST_IDENTITY}))
    company = await space.start("company")
    city = await space.add("city", "city", name="City of Murcia")
    url = ("--url", authority.url)

    # the member's directory is not the authority's: said so, nothing called
    wrong = await _cli("authority", "list", str(company.directory), "--url", company.url)
    assert wrong.exit_code == 1 and "not the data-space authority" in wrong.output, wrong.output
    empty = await _cli("authority", "list", str(authority.directory), *url)
    assert "Requests (0)" in empty.output and "agora join" in empty.output

    # no country anywhere: the error says where to give one, nothing is recorded
    refused = await _cli("join", str(city.directory), authority.url, "--url", city.url)
    assert refused.exit_code == 1 and "--country" in refused.output, refused.output
    status, _ = await city.call("GET", "/api/v1/membership")
    assert status == 404

    # the country given at init is used
    joined = await _cli("join", str(company.directory), authority.url, "--url", company.url)
    assert joined.exit_code == 0, joined.output
    assert "pending" in joined.output and "agora authority approve" in joined.output
    joined_city = await _cli(
        "join", str(city.directory), authority.url, "--url", city.url, "--country", "ES"
    )
    assert joined_city.exit_code == 0, joined_city.output

    _, requests = await authority.call("GET", "/api/v1/authority/requests")
    by_name = {r["name"]: r["id"] for r in requests}
    listed = await _cli("authority", "list", str(authority.directory), *url)
    assert "Requests (2)" in listed.output and "approve|reject" in listed.output
    rejected = await _cli(
        "authority", "reject", str(authority.directory), by_name["City of Murcia"],
        "--reason", "not vetted", *url,
    )  # fmt: skip
    assert rejected.exit_code == 0 and "Rejected City of Murcia" in rejected.output
    approved = await _cli(
        "authority", "approve", str(authority.directory), by_name["Movilidad S.L."], *url
    )
    assert approved.exit_code == 0, approved.output
    _, requests = await authority.call("GET", "/api/v1/authority/requests")
    assert {r["name"]: r["state"] for r in requests} == {
        "City of Murcia": "rejected",
        "Movilidad S.L.": "approved",
    }
    status, membership = await company.call("GET", "/api/v1/membership")
    assert membership["state"] == "approved" and len(membership["credentials"]) == 2


async def test_a_loopback_authority_refusal_names_the_setting(space: Space) -> None:
    authority = await space.add("authority", "authority")
    company = await space.add("company", "company", identity={"allow_http_hosts": []})
    joined = await _cli(
        "join", str(company.directory), authority.url, "--url", company.url, "--country", "ES"
    )
    assert joined.exit_code == 1, joined.output
    assert (
        "allow_http_hosts" in joined.output and "AGORA_IDENTITY_ALLOW_HTTP_HOSTS" in joined.output
    )
    status, _ = await company.call("GET", "/api/v1/membership")
    assert status == 404  # nothing recorded


async def test_a_rejection_reaches_the_applicant_and_no_one_else(space: Space) -> None:
    authority = await space.add("authority", "authority")
    company = await space.add("company", "company")
    other = await space.add("other", "company")
    status, applied = await company.call(
        "POST", "/api/v1/membership", json={"authority": authority.url, "country": "ES"}
    )
    assert status == 202 and applied["state"] == "pending", applied
    status, _ = await authority.call(
        "POST",
        f"/api/v1/authority/requests/{applied['requestId']}/reject",
        json={"reason": "no trade register entry"},
    )
    assert status == 200

    status, membership = await company.call("GET", "/api/v1/membership")
    assert status == 200 and membership["state"] == "rejected", membership
    assert membership["detail"] == "no trade register entry"
    listed = await _cli("membership", str(company.directory), "--url", company.url)
    assert "rejected" in listed.output and "pending" not in listed.output, listed.output

    # The status endpoint answers only the applicant itself.
    path = f"/authority/v1/membership-requests/{applied['requestId']}"
    token = other.trust.id_token_for(authority.did)
    async with space.http.get(
        authority.url + path, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 404
    async with space.http.get(authority.url + path) as resp:
        assert resp.status == 401
