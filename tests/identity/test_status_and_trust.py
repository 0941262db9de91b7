"""Bitstring Status List (issuer and verifier sides) and the trusted-issuers list."""

from __future__ import annotations

import base64
import gzip
import json
import time

import pytest

from identity import (
    Bitstring,
    CredentialError,
    IdentityError,
    MembershipCredential,
    ParticipantCredential,
    Reason,
    StatusListIssuer,
    TrustedIssuersList,
    verify_credential_jwt,
)
from tests.identity.attack_helpers import claims_of
from tests.identity.world import World


def test_bitstring_order_and_encoding() -> None:
    bits = Bitstring()
    assert bits.size == 131_072  # the spec minimum, 16 KiB
    bits.set(0)
    bits.set(14)
    encoded = bits.encode()
    assert encoded.startswith("u")
    raw = gzip.decompress(base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4)))
    assert raw[0] == 0b1000_0000 and raw[1] == 0b0000_0010
    decoded = Bitstring.decode(encoded)
    assert decoded[0] and decoded[14] and not decoded[1]
    decoded.set(14, False)
    assert not decoded[14]


def test_gzip_bomb_refused() -> None:
    bomb = gzip.compress(bytes(32 * 1024 * 1024))
    encoded = "u" + base64.urlsafe_b64encode(bomb).rstrip(b"=").decode()
    with pytest.raises(IdentityError) as err:
        Bitstring.decode(encoded)
    assert err.value.reason is Reason.STATUS_TOO_LARGE


async def test_issuer_side_allocates_and_publishes(world: World) -> None:
    issuer = StatusListIssuer(world.authority, world.base + "/status/other", size=1024)
    entries = [issuer.allocate() for _ in range(1024)]
    assert len({e["statusListIndex"] for e in entries}) == 1024
    with pytest.raises(IdentityError):
        issuer.allocate()
    issuer.set_status(int(entries[5]["statusListIndex"]))
    token = issuer.issue_credential()
    vc = await verify_credential_jwt(token, world.resolver)
    assert vc.has_type("BitstringStatusListCredential")
    assert vc.subject["type"] == "BitstringStatusList"
    assert vc.subject["statusPurpose"] == "revocation"
    assert Bitstring.decode(vc.subject["encodedList"])[int(entries[5]["statusListIndex"])]
    restored = StatusListIssuer.from_json(world.authority, json.loads(json.dumps(issuer.to_json())))
    assert restored.bits[int(entries[5]["statusListIndex"])]
    with pytest.raises(IdentityError):
        restored.allocate()


async def test_revocation_seen_after_cache_ttl_and_reinstated(world: World) -> None:
    now = [time.time()]
    from identity import HttpStatusListFetcher, StatusListChecker

    checker = StatusListChecker(
        HttpStatusListFetcher(world.http), world.resolver, ttl=60, clock=lambda: now[0]
    )
    vc = await verify_credential_jwt(world.membership, world.resolver)
    await checker.check(vc)
    index = int(world.membership_entries[1]["statusListIndex"])
    world.suspension.set_status(index)
    await checker.check(vc)  # still cached: the list is re-read only after its TTL
    now[0] += 61
    with pytest.raises(CredentialError) as err:
        await checker.check(vc)
    assert err.value.reason is Reason.SUSPENDED
    world.suspension.set_status(index, False)
    checker.invalidate()
    await checker.check(vc)


async def test_status_list_from_another_issuer_refused(world: World) -> None:
    rogue_list = StatusListIssuer(world.rogue, world.base + "/status/rogue")
    world.status["rogue"] = rogue_list
    vc_token = world.issue(
        world.authority,
        MembershipCredential(id=world.company.did, memberOf=world.authority.did),
        status=[rogue_list.allocate()],
    )
    vc = await verify_credential_jwt(vc_token, world.resolver)
    with pytest.raises(CredentialError) as err:
        await world.status_checker.check(vc)
    assert err.value.reason is Reason.ISSUER_MISMATCH


async def test_unreachable_status_list_fails_closed(world: World) -> None:
    entry = world.revocation.allocate()
    entry["statusListCredential"] = world.base + "/status/missing"
    vc_token = world.issue(
        world.authority,
        MembershipCredential(id=world.company.did, memberOf=world.authority.did),
        status=[entry],
    )
    vc = await verify_credential_jwt(vc_token, world.resolver)
    with pytest.raises(CredentialError) as err:
        await world.status_checker.check(vc)
    assert err.value.reason is Reason.STATUS_UNAVAILABLE


async def test_trusted_issuers_json_roundtrip_and_validity(world: World) -> None:
    now = time.time()
    til = TrustedIssuersList()
    til.add(
        world.city_registry.did,
        ["ParticipantCredential"],
        allowed_claims={"role": ["city"], "country": ["DE", "AT"]},
        valid_from=now - 10,
        valid_until=now + 3600,
        accredited_by=world.authority.did,
    )
    data = json.loads(json.dumps(til.to_json()))
    assert data["issuers"][0]["accreditations"][0]["allowedClaims"]["role"] == ["city"]
    restored = TrustedIssuersList.from_json(data)
    token = world.issue(
        world.city_registry,
        ParticipantCredential(id=world.company.did, legalName="Stadt", role="city", country="DE"),
    )
    vc = await verify_credential_jwt(token, world.resolver)
    restored.check(vc, now)
    with pytest.raises(CredentialError) as err:
        restored.check(vc, now + 7200)
    assert err.value.reason is Reason.UNTRUSTED_ISSUER
    restored.revoke_issuer(world.city_registry.did)
    with pytest.raises(CredentialError) as err:
        restored.check(vc, now)
    assert err.value.reason is Reason.UNTRUSTED_ISSUER
    with pytest.raises(IdentityError):
        TrustedIssuersList.from_json({"issuers": [{"did": "x", "issuerType": "Boss"}]})


async def test_claims_in_payload_match_status_entry(world: World) -> None:
    payload = claims_of(world.membership)
    entry = payload["credentialStatus"][0]
    assert entry["type"] == "BitstringStatusListEntry"
    assert entry["statusListCredential"] == world.revocation.url
    assert isinstance(entry["statusListIndex"], str)
