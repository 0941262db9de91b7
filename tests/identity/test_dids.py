"""did:key, did:web mapping and documents, and the guarded resolver against a real server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from identity import (
    DidResolver,
    FetchPolicy,
    KeyRing,
    Participant,
    Reason,
    ResolutionError,
    did_key_from_public_key,
    did_web_to_url,
    resolve_did_key,
    url_to_did_web,
)
from identity.did_document import DidDocument
from tests.identity.world import World

DSP_SERVICE_EXAMPLE = Path("/work/shared/dsp-2025-1/common/example/dataservice-did-service.json")


@pytest.mark.parametrize(("alg", "prefix"), [("EdDSA", "did:key:z6Mk"), ("ES256", "did:key:zDn")])
def test_did_key_roundtrip(alg: str, prefix: str) -> None:
    ring = KeyRing.generate(alg)
    did = did_key_from_public_key(ring.active.public_key)
    assert did.startswith(prefix)
    doc = resolve_did_key(did)
    method = doc.key_for(None, "capabilityInvocation")
    assert method.alg.value == alg
    assert did_key_from_public_key(method.public_key) == did


def test_did_key_known_vector() -> None:
    # did:key spec test vector (Ed25519)
    did = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
    assert resolve_did_key(did).id == did
    with pytest.raises(ResolutionError):
        resolve_did_key("did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooW0")


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000:city", "https://example.com:3000/city/did.json"),
    ],
)
def test_did_web_url_mapping(did: str, url: str) -> None:
    assert did_web_to_url(did) == url
    assert url_to_did_web(url) == did


@pytest.mark.parametrize("bad", ["did:web:", "did:web:a.com::x", "did:web:a.com:..", "did:web:a/b"])
def test_did_web_malformed(bad: str) -> None:
    with pytest.raises(ResolutionError):
        did_web_to_url(bad)


def test_did_document_has_jwk_methods_and_services() -> None:
    ring = KeyRing.generate()
    ring.rotate("ES256")
    me = Participant("did:web:city.example", ring)
    doc = me.did_document(
        credential_service="https://city.example/cs", dsp_endpoint="https://city.example/dsp"
    )
    assert [vm["type"] for vm in doc["verificationMethod"]] == ["JsonWebKey2020"] * 2
    assert all("d" not in vm["publicKeyJwk"] for vm in doc["verificationMethod"])
    services = {s["type"]: s for s in doc["service"]}
    assert services["CredentialService"]["serviceEndpoint"] == "https://city.example/cs"
    example = json.loads(DSP_SERVICE_EXAMPLE.read_text())
    assert services["DataService"]["type"] == example["type"]
    assert set(example["@context"]) <= set(doc["@context"])
    parsed = DidDocument.parse(doc, me.did)
    assert parsed.key_for(me.kid, "capabilityInvocation").alg.value == "ES256"
    assert parsed.service("CredentialService") is not None


async def test_resolve_did_web_and_cache(world: World) -> None:
    doc = await world.resolver.resolve(world.authority.did)
    assert doc.id == world.authority.did
    await world.resolver.resolve(world.authority.did)
    assert world.hits["authority"] == 1


async def test_cache_expires_after_ttl(world: World) -> None:
    now = [0.0]
    resolver = DidResolver(world.policy, ttl=10, clock=lambda: now[0])
    try:
        await resolver.resolve(world.authority.did)
        now[0] = 11
        await resolver.resolve(world.authority.did)
        assert world.hits["authority"] == 2
    finally:
        await resolver.close()


async def _refused(policy: FetchPolicy, did: str) -> Reason:
    resolver = DidResolver(policy)
    try:
        with pytest.raises(ResolutionError) as err:
            await resolver.resolve(did)
        return err.value.reason
    finally:
        await resolver.close()


async def test_host_not_on_allow_list_is_refused(world: World) -> None:
    assert await _refused(FetchPolicy(), world.authority.did) is Reason.HOST_NOT_ALLOWED


async def test_loopback_needs_explicit_permission(world: World) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_http=True)
    assert await _refused(policy, world.authority.did) is Reason.HOST_NOT_ALLOWED


async def test_http_needs_allow_http(world: World) -> None:
    # without allow_http the resolver speaks only https, which the plain-http server cannot serve
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), allow_loopback=True)
    assert await _refused(policy, world.authority.did) is Reason.DID_UNRESOLVABLE
    assert "authority" not in world.hits
    with pytest.raises(ResolutionError) as err:
        policy.check_url(world.base + "/authority/did.json")
    assert err.value.reason is Reason.HOST_NOT_ALLOWED


async def test_private_and_metadata_addresses_refused() -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"169.254.169.254", "10.0.0.1"}))
    assert await _refused(policy, "did:web:169.254.169.254") is Reason.HOST_NOT_ALLOWED
    assert await _refused(policy, "did:web:10.0.0.1") is Reason.HOST_NOT_ALLOWED


async def test_allowed_name_resolving_to_loopback_is_refused_at_connect() -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"localhost"}), allow_http=False)
    assert await _refused(policy, "did:web:localhost%3A9") is Reason.DID_UNRESOLVABLE


async def test_oversized_document_refused(world: World) -> None:
    assert await _refused(world.policy, world.did("big")) is Reason.TOKEN_TOO_LARGE


async def test_slow_server_times_out(world: World) -> None:
    assert await _refused(world.policy, world.did("slow")) is Reason.DID_UNRESOLVABLE


async def test_redirects_are_not_followed(world: World) -> None:
    assert await _refused(world.policy, world.did("redirect")) is Reason.DID_UNRESOLVABLE


async def test_document_for_another_did_refused(world: World) -> None:
    world.docs["impostor"] = world.docs["authority"]
    assert await _refused(world.policy, world.did("impostor")) is Reason.DID_UNRESOLVABLE


async def test_connect_time_guard_drops_forbidden_addresses() -> None:
    from identity.http_guard import _GuardedResolver

    strict = _GuardedResolver(FetchPolicy(allowed_hosts=frozenset({"localhost"})))
    with pytest.raises(OSError):
        await strict.resolve("localhost", 80)  # DNS answers loopback: dropped
    await strict.close()
    lenient = _GuardedResolver(
        FetchPolicy(allowed_hosts=frozenset({"localhost"}), allow_loopback=True)
    )
    assert await lenient.resolve("localhost", 80)
    await lenient.close()


def test_unusable_key_types_are_skipped_not_fatal() -> None:
    ring = KeyRing.generate()
    me = Participant("did:web:city.example", ring)
    doc = me.did_document()
    rsa = {"id": "did:web:city.example#rsa", "type": "JsonWebKey2020", "controller": me.did}
    rsa["publicKeyJwk"] = {"kty": "RSA", "n": "AQAB", "e": "AQAB"}  # type: ignore[assignment]
    doc["verificationMethod"].append(rsa)
    doc["authentication"].append(rsa["id"])
    parsed = DidDocument.parse(doc, me.did)
    assert list(parsed.methods) == [me.kid]
    with pytest.raises(ResolutionError):
        DidDocument.parse(doc, "did:web:other.example")


async def test_concurrent_misses_share_one_fetch(world: World) -> None:
    import asyncio

    resolver = DidResolver(world.policy)
    try:
        docs = await asyncio.gather(*(resolver.resolve(world.company.did) for _ in range(5)))
        assert {d.id for d in docs} == {world.company.did}
        assert world.hits["company"] == 1
    finally:
        await resolver.close()
