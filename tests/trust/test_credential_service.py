"""The DCP Credential Service (presentation query) and storage endpoint of a member."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from connector.keys import load_participant
from identity import (
    MembershipCredential,
    create_id_token,
    issue_access_token,
    issue_credential,
    type_scope,
)
from identity.credential_service import DCP_CONTEXT, query_message
from identity.jwt_codec import decode_unverified
from tests.trust.conftest import Node, Space

SCOPES = [type_scope("MembershipCredential"), type_scope("ParticipantCredential")]


def _query_header(holder: Node, verifier: Node, scopes: list[str] = SCOPES) -> str:
    """What a verifier sends: its own ID token carrying the holder's access token."""
    access = issue_access_token(holder.trust.participant, verifier.did, scopes)
    token = create_id_token(verifier.trust.participant, holder.did, token=access)
    return f"Bearer {token}"


async def _query(holder: Node, header: str | None, body: Any = None) -> tuple[int, Any]:
    headers = {"Authorization": header} if header else {}
    if isinstance(body, bytes):
        return await holder.call(
            "POST", "/dcp/presentations/query", admin=False, data=body, headers=headers
        )
    return await holder.call(
        "POST",
        "/dcp/presentations/query",
        admin=False,
        json=query_message(SCOPES) if body is None else body,
        headers=headers,
    )


def _is_problem(status: int, body: Any, expected: int, reason: str | None = None) -> None:
    assert status == expected, body
    assert isinstance(body, dict) and body["status"] == expected and body["title"]
    if reason is not None:
        assert body["reason"] == reason, body


async def test_query_answers_a_valid_access_token(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    status, body = await _query(company, _query_header(company, city))
    assert status == 200, body
    assert body["type"] == "PresentationResponseMessage" and len(body["presentation"]) == 1


async def test_query_refuses_bad_or_absent_tokens(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    status, body = await _query(company, None)
    _is_problem(status, body, 401, "malformed")
    status, body = await _query(company, "Bearer not.a.jwt")
    _is_problem(status, body, 401)
    no_access = create_id_token(city.trust.participant, company.did)
    status, body = await _query(company, f"Bearer {no_access}")
    _is_problem(status, body, 401, "missing_access_token")
    # An access token the holder did not mint (the verifier forged one for itself).
    forged = issue_access_token(city.trust.participant, city.did, SCOPES)
    token = create_id_token(city.trust.participant, company.did, token=forged)
    status, body = await _query(company, f"Bearer {token}")
    _is_problem(status, body, 401, "bad_signature")
    # The access token was granted to the auditor, the city presents it.
    stolen = _query_header(company, onboarded["auditor"])
    access = decode_unverified(stolen.removeprefix("Bearer ")).payload["token"]
    token = create_id_token(city.trust.participant, company.did, token=access)
    status, body = await _query(company, f"Bearer {token}")
    _is_problem(status, body, 401, "wrong_audience")
    # Replay of a valid header.
    header = _query_header(company, city)
    assert (await _query(company, header))[0] == 200
    status, body = await _query(company, header)
    _is_problem(status, body, 401, "replayed")


async def test_query_bad_messages(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    status, body = await _query(company, _query_header(company, city), b"{not json")
    _is_problem(status, body, 400)
    status, body = await _query(company, _query_header(company, city), {"type": "Nope"})
    _is_problem(status, body, 400, "malformed")
    status, body = await _query(
        company,
        _query_header(company, city, [type_scope("MembershipCredential")]),
        query_message(SCOPES),
    )
    _is_problem(status, body, 403, "scope_not_granted")


async def test_query_refuses_an_anonymous_caller_before_reading_the_body(
    onboarded: Space,
) -> None:
    """A caller without a valid token is answered at once: the connector does not wait for, or
    parse, a body it announced (here 100,000 bytes that never come)."""
    company = onboarded["company"]
    host, port = company.url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(
            b"POST /dcp/presentations/query HTTP/1.1\r\nHost: x\r\n"
            b"Authorization: Bearer not.a.jwt\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n["
        )
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    finally:
        writer.close()
    assert status_line.split()[1] == b"401", status_line


async def test_query_with_a_valid_token_and_a_deep_body(onboarded: Space) -> None:
    city, company = onboarded["city"], onboarded["company"]
    deep = b"[" * 100_000
    status, body = await _query(company, _query_header(company, city), deep)
    _is_problem(status, body, 400)
    assert "nested deeper than" in body["detail"]
    assert (await _query(company, _query_header(company, city)))[0] == 200


def _message(*payloads: str, credential_type: str = "MembershipCredential") -> dict[str, Any]:
    return {
        "@context": [DCP_CONTEXT],
        "type": "CredentialMessage",
        "credentials": [
            {"credentialType": credential_type, "payload": p, "format": "jwt"} for p in payloads
        ],
    }


async def _store(holder: Node, header: str | None, body: Any) -> tuple[int, Any]:
    headers = {"Authorization": header} if header else {}
    if isinstance(body, bytes):
        return await holder.call(
            "POST", "/dcp/credentials", admin=False, data=body, headers=headers
        )
    return await holder.call("POST", "/dcp/credentials", admin=False, json=body, headers=headers)


async def test_storage_endpoint_refuses_bad_deliveries(onboarded: Space) -> None:
    authority_node, company, city = onboarded["authority"], onboarded["company"], onboarded["city"]
    authority = load_participant(authority_node.connector.settings)
    before = await company.trust.credentials.count()

    def issuer_header() -> str:
        return f"Bearer {create_id_token(authority, company.did)}"

    good = issue_credential(
        authority,
        MembershipCredential(id=company.did, memberOf=authority.did).to_credential(
            authority.did, valid_until=time.time() + 3600
        ),
    )
    about_city = issue_credential(
        authority,
        MembershipCredential(id=city.did, memberOf=authority.did).to_credential(authority.did),
    )
    _is_problem(*await _store(company, None, _message(good)), 401, "malformed")
    _is_problem(*await _store(company, "Bearer x.y.z", _message(good)), 401)
    _is_problem(*await _store(company, issuer_header(), b"{oops"), 400)
    _is_problem(*await _store(company, issuer_header(), {"type": "CredentialMessage"}), 400)
    _is_problem(*await _store(company, issuer_header(), _message()), 400)
    status, body = await _store(company, issuer_header(), _message(good, about_city))
    _is_problem(status, body, 400, "invalid_claims")
    assert "/credentials/1" in body["detail"]
    status, body = await _store(
        company, issuer_header(), _message(good, credential_type="AuditorCredential")
    )
    _is_problem(status, body, 400)
    _is_problem(*await _store(company, issuer_header(), _message("not-a-jwt")), 400)
    # Someone who is not our authority nor a trusted issuer may not write.
    city_token = create_id_token(city.trust.participant, company.did)
    status, body = await _store(company, f"Bearer {city_token}", _message(good))
    _is_problem(status, body, 403, "untrusted_issuer")
    # A delivery nobody asked for is refused, one we asked for is stored; a replayed ID token
    # is refused.
    status, body = await _store(company, issuer_header(), _message(good))
    _is_problem(status, body, 403, "not_requested")
    await company.trust.issuance.open(authority.did, ["MembershipCredential"])
    header = issuer_header()
    assert (await _store(company, header, _message(good)))[0] == 200
    _is_problem(*await _store(company, header, _message(good)), 401, "replayed")
    # Oversized body.
    status, body = await _store(company, issuer_header(), b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert status == 413, body
    assert await company.trust.credentials.count() == before + 1  # only the one good delivery
