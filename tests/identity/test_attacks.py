"""The attack table: one test per attack, each refused with its own reason code.

Every attack goes through the public entry point the connector uses (``verify_caller``) unless
the attack is on a part that entry point never lets through (noted per test).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from identity import (
    AuditorCredential,
    IdentityError,
    MembershipCredential,
    ParticipantCredential,
    Reason,
    create_id_token,
    issue_access_token,
)
from tests.identity.attack_helpers import b64, claims_of, forge
from tests.identity.world import SCOPES, World


async def rejected(world: World, header: str, scopes: list[str] = SCOPES) -> Reason:
    with pytest.raises(IdentityError) as err:
        await world.verifier.verify_caller(header, scopes)
    assert err.value.detail
    return err.value.reason


async def test_bad_signature(world: World) -> None:
    token = world.header()[7:]
    head, payload, sig = token.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    assert await rejected(world, f"Bearer {head}.{payload}.{flipped}") is Reason.BAD_SIGNATURE


async def test_alg_none(world: World) -> None:
    payload = claims_of(world.header()[7:])
    token = forge({"alg": "none", "typ": "JWT"}, payload)
    assert await rejected(world, f"Bearer {token}") is Reason.ALG_NOT_ALLOWED


async def test_algorithm_confusion_hs256_keyed_with_public_key(world: World) -> None:
    payload = claims_of(world.header()[7:])
    public_pem = world.company.keyring.active.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": world.company.kid}
    unsigned = forge(header, payload).rsplit(".", 1)[0]
    mac = hmac.new(public_pem, unsigned.encode(), hashlib.sha256).digest()
    assert await rejected(world, f"Bearer {unsigned}.{b64(mac)}") is Reason.ALG_NOT_ALLOWED


async def test_expired_id_token(world: World) -> None:
    header = world.header(now=time.time() - 3600)
    assert await rejected(world, header) is Reason.EXPIRED


async def test_not_yet_valid_credential(world: World) -> None:
    future = world.issue(
        world.authority,
        ParticipantCredential(id=world.company.did, legalName="Acme", role="company", country="DE"),
        valid_from=time.time() + 3600,
    )
    world.present([world.membership, future])
    assert await rejected(world, world.header()) is Reason.NOT_YET_VALID


async def test_wrong_audience(world: World) -> None:
    header = world.header(audience=world.authority.did)
    assert await rejected(world, header) is Reason.WRONG_AUDIENCE


async def test_replayed_jti(world: World) -> None:
    header = world.header()
    await world.verifier.verify_caller(header, SCOPES)
    assert await rejected(world, header) is Reason.REPLAYED


async def test_revoked_credential(world: World) -> None:
    index = int(world.membership_entries[0]["statusListIndex"])
    world.revocation.set_status(index, True)
    assert await rejected(world, world.header()) is Reason.REVOKED


async def test_suspended_credential(world: World) -> None:
    index = int(world.membership_entries[1]["statusListIndex"])
    world.suspension.set_status(index, True)
    assert await rejected(world, world.header()) is Reason.SUSPENDED


async def test_untrusted_issuer(world: World) -> None:
    rogue = world.issue(
        world.rogue, MembershipCredential(id=world.company.did, memberOf=world.authority.did)
    )
    world.present([rogue, world.participant_vc])
    assert await rejected(world, world.header()) is Reason.UNTRUSTED_ISSUER


async def test_issuer_not_allowed_that_credential_type(world: World) -> None:
    auditor = world.issue(
        world.city_registry,
        AuditorCredential(id=world.company.did, accreditation="ISO 27001", jurisdiction="DE"),
    )
    world.present([world.membership, world.participant_vc, auditor])
    scopes = [*SCOPES, "org.eclipse.dspace.dcp.vc.type:AuditorCredential"]
    assert await rejected(world, world.header(scopes), scopes) is Reason.TYPE_NOT_ALLOWED


async def test_claim_outside_allowed_values(world: World) -> None:
    # the city registry may only attest role=city
    claims = ParticipantCredential(
        id=world.company.did, legalName="Acme", role="company", country="DE"
    )
    world.present([world.membership, world.issue(world.city_registry, claims)])
    assert await rejected(world, world.header()) is Reason.CLAIM_NOT_ALLOWED


async def test_holder_binding_mismatch(world: World) -> None:
    someone_else = world.issue(
        world.authority,
        ParticipantCredential(id=world.rogue.did, legalName="Other", role="company", country="FR"),
    )
    world.present([world.membership, someone_else])
    assert await rejected(world, world.header()) is Reason.HOLDER_MISMATCH


async def test_did_that_cannot_be_resolved(world: World) -> None:
    ghost = world.participant("ghost", publish=False)
    access = issue_access_token(ghost, world.provider.did, SCOPES)
    token = create_id_token(ghost, world.provider.did, token=access)
    assert await rejected(world, f"Bearer {token}") is Reason.DID_UNRESOLVABLE


async def test_oversized_token(world: World) -> None:
    caller = world.company
    token = create_id_token(caller, world.provider.did, token="x" * 40_000)
    assert await rejected(world, f"Bearer {token}") is Reason.TOKEN_TOO_LARGE


async def test_deeply_nested_token(world: World) -> None:
    payload = claims_of(world.header()[7:])
    nested: Any = "deep"
    for _ in range(200):
        nested = {"a": nested}
    payload["extra"] = nested
    token = world.company.sign(payload, "JWT")
    assert await rejected(world, f"Bearer {token}") is Reason.TOKEN_TOO_DEEP
