"""The whole callee-side DCP check against real HTTP on loopback."""

from __future__ import annotations

import pytest

from identity import IdentityError, MembershipCredential, ParticipantCredential, Reason, type_scope
from tests.identity.world import SCOPES, World


async def test_verify_caller_returns_typed_claims(world: World) -> None:
    caller = await world.call()
    assert caller.did == world.company.did
    assert {"MembershipCredential", "ParticipantCredential"} <= caller.types()
    participant = caller.get(ParticipantCredential)
    assert participant is not None and participant.role == "company"
    assert participant.legal_name == "Acme Mobility GmbH"
    membership = caller.get(MembershipCredential)
    assert membership is not None and membership.member_of == world.authority.did


async def test_warm_caches_do_not_refetch(world: World) -> None:
    await world.call()
    before = dict(world.hits)
    await world.call()
    assert world.hits == before  # DIDs and status lists served from cache


async def test_scope_not_granted_by_holder_is_refused(world: World) -> None:
    header = world.header([type_scope("MembershipCredential")])
    with pytest.raises(IdentityError) as err:
        await world.verifier.verify_caller(header, SCOPES)
    assert err.value.reason is Reason.CREDENTIAL_SERVICE_FAILED


async def test_missing_credential_type(world: World) -> None:
    world.present([world.membership])
    with pytest.raises(IdentityError) as err:
        await world.call()
    assert err.value.reason is Reason.MISSING_CREDENTIAL


async def test_missing_authorization_header(world: World) -> None:
    with pytest.raises(IdentityError) as err:
        await world.verifier.verify_caller(None, SCOPES)
    assert err.value.reason is Reason.MALFORMED


async def test_rotation_keeps_issued_credentials_verifying(world: World) -> None:
    old_kid = world.authority.kid
    world.authority.keyring.rotate()
    assert world.authority.kid != old_kid
    world.publish("authority", world.authority)
    world.resolver.invalidate(world.authority.did)
    world.verifier.credential_cache.clear()
    fresh = world.issue(
        world.authority,
        ParticipantCredential(id=world.company.did, legalName="Acme", role="company", country="DE"),
    )
    world.present([world.membership, fresh])  # membership was signed by the retired key
    caller = await world.call()
    assert len(caller.credentials) == 2
    world.authority.keyring.remove(old_kid.split("#")[1])
    world.publish("authority", world.authority)
    world.resolver.invalidate(world.authority.did)
    world.verifier.credential_cache.clear()
    with pytest.raises(IdentityError) as err:
        await world.call()
    assert err.value.reason is Reason.KEY_NOT_FOUND
