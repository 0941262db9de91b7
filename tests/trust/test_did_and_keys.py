"""The DID document a connector publishes, its key ring on disk, and rotation."""

from __future__ import annotations

import asyncio
import socket

import pytest
from click.testing import CliRunner

from connector.cli import main
from connector.config import load_settings
from connector.errors import ConfigError
from connector.keys import load_keyring, load_participant
from connector.participant import init_participant
from connector.trust.settings import identity_settings
from identity import DidResolver, FetchPolicy, InMemoryReplayCache, create_id_token
from identity.id_token import verify_id_token
from ledger.records import Record
from ledger.treehead import TreeHead
from tests.trust.conftest import TEST_IDENTITY, Space

LOOPBACK = FetchPolicy(
    allowed_hosts=frozenset({"127.0.0.1"}), allow_loopback=True, allow_http=True, timeout=5
)


async def test_did_document_is_public_and_resolvable(space: Space) -> None:
    city = await space.add("city", "city")
    status, doc = await city.call("GET", "/.well-known/did.json", admin=False)
    assert status == 200
    assert doc["id"] == city.did
    resolver = DidResolver(LOOPBACK)
    try:
        resolved = await resolver.resolve(city.did)
    finally:
        await resolver.close()
    me = city.trust.participant
    assert me.kid in resolved.methods
    assert resolved.key_for(me.kid, "capabilityInvocation").public_key is not None
    services = {s.type: s.endpoint for s in resolved.services}
    assert services == {
        "CredentialService": city.url + "/dcp",
        "DataService": city.url + "/dsp",
        "AgoraLedgerExchange": city.url + "/ledger/v1",  # the receipt exchange is advertised
    }
    dsp = next(s for s in doc["service"] if s["type"] == "DataService")
    assert dsp["https://w3id.org/agora/dsp#extensions"] == [
        "https://w3id.org/agora/dsp#providerSignature"
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_rotation_keeps_old_keys_verifying(space: Space) -> None:
    city = await space.add("city", "city", port=_free_port())
    old = load_participant(city.connector.settings)
    old_token = create_id_token(old, "did:web:verifier.example", ttl=300)
    _, head_json = await city.call("GET", "/api/v1/ledger/tree-head")
    old_head = TreeHead.from_json(head_json)
    assert old_head.kid == old.kid
    await space.stop("city")

    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["keys", "rotate", str(city.directory)]
    )
    assert result.exit_code == 0, result.output
    city = await space.start("city")
    new = city.trust.participant
    assert new.kid != old.kid and old.kid.split("#")[1] in result.output

    resolver = DidResolver(LOOPBACK)
    try:
        doc = await resolver.resolve(city.did)
        assert {old.kid, new.kid} <= set(doc.methods)
        claims = await verify_id_token(
            old_token,
            resolver,
            audience="did:web:verifier.example",
            replay_cache=InMemoryReplayCache(),
        )
        assert claims.did == city.did
        assert old_head.verify(doc.methods[old.kid].public_key)
        assert city.connector.ctx is not None
        await city.connector.ctx.components["provenance"].record(
            Record(
                provider=city.did,
                consumer="did:web:company.example",
                agreement_id="urn:uuid:agr-1",
                action="read",
                decision="permit",
                request_hash="0" * 64,
                details={},
            )
        )
        _, head_json = await city.call("GET", "/api/v1/ledger/tree-head")
        new_head = TreeHead.from_json(head_json)
        assert new_head.kid == new.kid
        assert new_head.verify(doc.methods[new.kid].public_key)
    finally:
        await resolver.close()


def test_encrypted_key_ring_needs_the_right_passphrase(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    d = Path(str(tmp_path)) / "p"
    init_participant(d, "Civic Air", "civic", port=0, passphrase="s3cret")
    settings = load_settings(d, env={})
    monkeypatch.delenv("AGORA_KEY_PASSPHRASE", raising=False)
    with pytest.raises(ConfigError) as missing:
        load_keyring(settings)
    assert "AGORA_KEY_PASSPHRASE" in str(missing.value) and "passphrase" in str(missing.value)
    monkeypatch.setenv("AGORA_KEY_PASSPHRASE", "wrong")
    with pytest.raises(ConfigError) as wrong:
        load_keyring(settings)
    assert "right passphrase" in str(wrong.value)
    monkeypatch.setenv("AGORA_KEY_PASSPHRASE", "s3cret")
    ring = load_keyring(settings)
    result = CliRunner().invoke(main, ["keys", "rotate", str(d)])
    assert result.exit_code == 0, result.output
    rotated = load_keyring(settings)
    assert rotated.active.kid != ring.active.kid and rotated.get(ring.active.kid) is not None
    pem = (d / "keys" / f"{rotated.active.kid}.pem").read_bytes()
    assert b"ENCRYPTED" in pem


def test_passphrase_env_name_comes_from_the_settings(
    tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pathlib import Path

    d = Path(str(tmp_path)) / "q"
    init_participant(d, "City", "city", port=0, passphrase="pw")
    text = (
        (d / "agora.toml")
        .read_text()
        .replace("[security]\n", '[security]\nkey_passphrase_env = "CITY_KEYS"\n')
    )
    (d / "agora.toml").write_text(text)
    settings = load_settings(d, env={})
    monkeypatch.setenv("CITY_KEYS", "pw")
    assert load_keyring(settings).active.kid


def test_bad_identity_settings_are_refused(tmp_path: object) -> None:
    from pathlib import Path

    d = Path(str(tmp_path)) / "r"
    init_participant(
        d,
        "City",
        "city",
        port=0,
        extra_settings={"identity": {**TEST_IDENTITY, "allow_http_hosts": ["example.com"]}},
    )
    with pytest.raises(ConfigError) as err:
        identity_settings(load_settings(d, env={}))
    assert "identity.allow_http_hosts" in str(err.value)


def test_a_first_generation_key_file_is_imported(tmp_path: object) -> None:
    from pathlib import Path

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    d = Path(str(tmp_path)) / "old"
    init_participant(d, "City", "city", port=0)
    for f in (d / "keys").iterdir():
        f.unlink()
    key = ed25519.Ed25519PrivateKey.generate()
    (d / "keys" / "signing-ed25519.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ring = load_keyring(load_settings(d, env={}))
    assert ring.active.public_key == key.public_key()
