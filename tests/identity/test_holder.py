"""Holder side: the Credential Service query responder, called over real HTTP."""

from __future__ import annotations

import pytest

from identity import (
    IdentityError,
    PresentationResponder,
    Reason,
    create_id_token,
    issue_access_token,
    query_message,
    type_scope,
)
from tests.identity.attack_helpers import claims_of
from tests.identity.world import World


async def test_responder_presents_only_requested_types(world: World) -> None:
    responder = PresentationResponder(
        world.company, [world.membership, world.participant_vc], world.resolver
    )
    scopes = [type_scope("MembershipCredential")]
    access = issue_access_token(world.company, world.provider.did, scopes)
    auth = "Bearer " + create_id_token(world.provider, world.company.did, token=access)
    response = await responder.respond(query_message(scopes), auth)
    assert response["type"] == "PresentationResponseMessage"
    vp = claims_of(response["presentation"][0])
    assert vp["aud"] == world.provider.did
    assert [e["type"] for e in vp["verifiableCredential"]] == ["EnvelopedVerifiableCredential"]


async def test_responder_refuses_token_presented_by_another_party(world: World) -> None:
    responder = PresentationResponder(world.company, [world.membership], world.resolver)
    scopes = [type_scope("MembershipCredential")]
    access = issue_access_token(world.company, world.provider.did, scopes)
    stolen = "Bearer " + create_id_token(world.rogue, world.company.did, token=access)
    with pytest.raises(IdentityError) as err:
        await responder.respond(query_message(scopes), stolen)
    assert err.value.reason is Reason.WRONG_AUDIENCE


async def test_responder_refuses_presentation_definition(world: World) -> None:
    responder = PresentationResponder(world.company, [world.membership], world.resolver)
    message = {"type": "PresentationQueryMessage", "presentationDefinition": {}}
    with pytest.raises(IdentityError) as err:
        await responder.respond(message, "Bearer x.y.z")
    assert err.value.reason is Reason.UNSUPPORTED


async def test_responder_refuses_forged_access_token(world: World) -> None:
    responder = PresentationResponder(world.company, [world.membership], world.resolver)
    scopes = [type_scope("MembershipCredential")]
    forged = issue_access_token(world.rogue, world.provider.did, scopes)
    auth = "Bearer " + create_id_token(world.provider, world.company.did, token=forged)
    with pytest.raises(IdentityError) as err:
        await responder.respond(query_message(scopes), auth)
    assert err.value.reason is Reason.BAD_SIGNATURE
