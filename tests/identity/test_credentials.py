"""VC-JWT issue/verify, the typed credential builders, presentations and Data Integrity."""

from __future__ import annotations

import sys
import time
from typing import Any

import pytest

from identity import (
    ConsentCredential,
    DependencyMissingError,
    IdentityError,
    KeyRing,
    MembershipCredential,
    Participant,
    ParticipantCredential,
    Reason,
    TokenError,
    create_presentation,
    issue_credential,
    parse_claims,
    verify_credential_jwt,
    verify_presentation,
)
from identity.contexts import CREDENTIALS_V2, document_loader
from identity.data_integrity import verify_data_integrity
from tests.identity.attack_helpers import claims_of
from tests.identity.world import World


async def test_vc_jwt_payload_is_the_credential_with_registered_claims(world: World) -> None:
    payload = claims_of(world.membership)
    assert "vc" not in payload
    assert payload["iss"] == payload["issuer"] == world.authority.did
    assert payload["sub"] == payload["credentialSubject"]["id"] == world.company.did
    assert payload["jti"] == payload["id"]
    assert {"iat", "nbf", "exp"} <= payload.keys()
    vc = await verify_credential_jwt(world.membership, world.resolver)
    assert vc.types == ("VerifiableCredential", "MembershipCredential")
    assert vc.status and vc.status[0]["type"] == "BitstringStatusListEntry"
    claims = parse_claims(vc)
    assert isinstance(claims, MembershipCredential)


async def test_expired_credential(world: World) -> None:
    vc = world.issue(
        world.authority,
        MembershipCredential(id=world.company.did, memberOf=world.authority.did),
        valid_from=time.time() - 7200,
        valid_until=time.time() - 3600,
    )
    with pytest.raises(TokenError) as err:
        await verify_credential_jwt(vc, world.resolver)
    assert err.value.reason is Reason.EXPIRED


async def test_unknown_context_rejected_without_network(world: World) -> None:
    credential = MembershipCredential(
        id=world.company.did, memberOf=world.authority.did
    ).to_credential(world.authority.did)
    credential["@context"].append("https://evil.example/context.jsonld")
    with pytest.raises(IdentityError) as err:
        issue_credential(world.authority, credential)
    assert err.value.reason is Reason.UNKNOWN_CONTEXT
    with pytest.raises(IdentityError):
        document_loader("https://evil.example/context.jsonld")
    assert document_loader(CREDENTIALS_V2)["document"]["@context"]


async def test_issuer_must_be_signer(world: World) -> None:
    credential = MembershipCredential(
        id=world.company.did, memberOf=world.authority.did
    ).to_credential(world.authority.did)
    with pytest.raises(IdentityError) as err:
        issue_credential(world.rogue, credential)
    assert err.value.reason is Reason.ISSUER_MISMATCH


async def test_vc_signed_with_id_token_typ_is_refused(world: World) -> None:
    payload = claims_of(world.membership)
    token = world.authority.sign(payload, "JWT")
    with pytest.raises(TokenError) as err:
        await verify_credential_jwt(token, world.resolver)
    assert err.value.reason is Reason.MALFORMED


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (ParticipantCredential, {"legalName": "", "role": "city", "country": "DE"}),
        (ParticipantCredential, {"legalName": "X", "role": "mayor", "country": "DE"}),
        (ParticipantCredential, {"legalName": "X", "role": "city", "country": "germany"}),
        (ConsentCredential, {"purpose": "not an iri", "grantee": "did:web:a.example"}),
        (MembershipCredential, {"memberOf": "did:web:a.example", "unexpected": 1}),
    ],
)
def test_typed_builders_validate(model: Any, data: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        model(id="did:web:subject.example", **data)


def test_consent_requires_revocation_status() -> None:
    consent = ConsentCredential(
        id="did:web:residents.example",
        residentGroup=True,
        purpose="https://w3id.org/dpv#ResearchAndDevelopment",
        grantee="did:web:lab.example",
    )
    with pytest.raises(IdentityError) as err:
        consent.to_credential("did:web:authority.example")
    assert err.value.reason is Reason.INVALID_CLAIMS


async def test_consent_is_bound_to_its_grantee(world: World) -> None:
    # the authority's consent registry records a resident's consent and can revoke it
    resident = world.participant("resident")
    consent = world.issue(
        world.authority,
        ConsentCredential(
            id=resident.did,
            purpose="https://w3id.org/dpv#ResearchAndDevelopment",
            grantee=world.company.did,
        ),
        status=[world.revocation.allocate()],
    )
    vc = await world.verifier.verify_credential(consent, holder=world.company.did)
    claims = parse_claims(vc)
    assert isinstance(claims, ConsentCredential) and claims.grantee == world.company.did
    with pytest.raises(IdentityError) as err:
        await world.verifier.verify_credential(consent, holder=world.rogue.did)
    assert err.value.reason is Reason.HOLDER_MISMATCH


async def test_vp_bound_to_nonce_and_audience(world: World) -> None:
    vp = create_presentation(
        world.company, [world.membership], audience=world.provider.did, nonce="n-1"
    )
    verified = await verify_presentation(
        vp, world.resolver, audience=world.provider.did, nonce="n-1"
    )
    assert verified.holder == world.company.did and verified.credentials == (world.membership,)
    with pytest.raises(TokenError) as err:
        await verify_presentation(vp, world.resolver, audience=world.provider.did, nonce="n-2")
    assert err.value.reason is Reason.WRONG_NONCE
    with pytest.raises(TokenError) as err:
        await verify_presentation(vp, world.resolver, audience=world.authority.did, nonce="n-1")
    assert err.value.reason is Reason.WRONG_AUDIENCE


async def test_did_key_issuer_works_offline(world: World) -> None:
    issuer = Participant.with_did_key(KeyRing.generate("ES256"))
    credential = MembershipCredential(id=world.company.did, memberOf=issuer.did).to_credential(
        issuer.did
    )
    vc = await verify_credential_jwt(issue_credential(issuer, credential), world.resolver)
    assert vc.issuer == issuer.did


@pytest.fixture
def without_didkit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide the optional extra even where it is installed: a None module entry fails import."""
    monkeypatch.setitem(sys.modules, "didkit", None)


@pytest.mark.usefixtures("without_didkit")
async def test_data_integrity_without_didkit_says_how_to_install() -> None:
    credential = {"@context": [CREDENTIALS_V2], "type": ["VerifiableCredential"], "proof": {}}
    with pytest.raises(DependencyMissingError) as err:
        await verify_data_integrity(credential)
    assert err.value.reason is Reason.DEPENDENCY_MISSING
    assert "install agora-dataspace[didkit]" in err.value.detail


@pytest.mark.usefixtures("without_didkit")
async def test_verifier_routes_json_credentials_to_data_integrity(world: World) -> None:
    credential = {"@context": [CREDENTIALS_V2], "type": ["VerifiableCredential"], "proof": {}}
    with pytest.raises(DependencyMissingError):
        await world.verifier.verify_credential(credential, holder=None)
