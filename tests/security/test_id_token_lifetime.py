"""Issue 14, item 8: a self-issued ID token with a long ``exp - iat`` (or without ``iat`` or
``exp``) is refused, through the authority's public membership endpoint, and nothing is stored."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from connector.trust.settings import IdentitySettings
from tests.trust.conftest import Node, Space, space  # noqa: F401  (the fixture)

APPLICATION = {"name": "Acme", "role": "company", "country": "ES"}


def _token(member: Node, audience: str, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": member.did,
        "sub": member.did,
        "aud": audience,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + 300,
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return member.trust.participant.sign(payload, "JWT")


async def _apply(authority: Node, token: str) -> tuple[int, Any]:
    return await authority.call(
        "POST",
        "/authority/v1/membership-requests",
        admin=False,
        headers={"Authorization": f"Bearer {token}"},
        json=APPLICATION,
    )


async def _requests(authority: Node) -> list[Any]:
    status, body = await authority.call("GET", "/api/v1/authority/requests")
    assert status == 200
    return list(body)


async def test_long_lived_and_incomplete_id_tokens_are_refused(space: Space) -> None:  # noqa: F811
    authority = await space.add("authority", "authority")
    member = await space.add("member", "company")
    now = int(time.time())
    cases: dict[str, dict[str, Any]] = {
        "a day long": {"iat": now, "exp": now + 86_400},
        "301 s": {"iat": now, "exp": now + 301},
        "no iat": {"iat": None},
        "no exp": {"exp": None},
        "exp before iat": {"iat": now + 10, "exp": now + 5},
    }
    for label, claims in cases.items():
        status, body = await _apply(authority, _token(member, authority.did, **claims))
        assert status == 401, (label, body)
        assert body["reason"] in ("invalid_claims", "expired"), (label, body)
        assert await _requests(authority) == [], label
    status, body = await _apply(authority, _token(member, authority.did, exp=now + 86_400))
    assert "lifetime" in body["detail"] and "300" in body["detail"], body

    # The bound itself is accepted: the refusals above are about the lifetime, not the token.
    status, body = await _apply(authority, _token(member, authority.did))
    assert status == 202, body
    assert [r["did"] for r in await _requests(authority)] == [member.did]


async def test_the_bound_is_configurable(space: Space) -> None:  # noqa: F811
    authority = await space.add("authority", "authority", identity={"max_token_lifetime_s": 3600})
    member = await space.add("member", "company")
    now = int(time.time())
    status, body = await _apply(authority, _token(member, authority.did, exp=now + 3601))
    assert status == 401 and body["reason"] == "invalid_claims", body
    assert await _requests(authority) == []
    status, body = await _apply(authority, _token(member, authority.did, exp=now + 3600))
    assert status == 202, body


def test_a_connector_may_not_mint_tokens_it_would_refuse() -> None:
    with pytest.raises(ValueError, match="max_token_lifetime_s"):
        IdentitySettings(token_ttl_s=600)
    assert IdentitySettings(token_ttl_s=600, max_token_lifetime_s=600).token_ttl_s == 600
