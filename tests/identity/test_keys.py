"""Keys, JWKs, encrypted storage and rotation."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import jwt
import pytest

from identity import KeyAlg, KeyRing, KeyStoreError, Reason, SigningKey
from identity.keys import PASSPHRASE_ENV, jwk_thumbprint, public_key_from_jwk


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_jwk_export_with_kid_and_sign_verify(alg: str) -> None:
    key = SigningKey.generate(alg)
    jwk = key.public_jwk()
    assert jwk["kid"] == key.kid == jwk_thumbprint(jwk)
    assert jwk["alg"] == alg and "d" not in jwk
    token = key.sign_jwt({"hello": "world"}, kid="did:example:1#k", typ="JWT")
    public = public_key_from_jwk(jwk)
    assert jwt.decode(token, public, algorithms=[alg]) == {"hello": "world"}


def test_thumbprint_matches_rfc7638_example() -> None:
    # RFC 8037 appendix A.3: thumbprint of the Ed25519 example key
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    assert jwk_thumbprint(jwk) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_encrypted_pem_roundtrip_and_wrong_passphrase() -> None:
    key = SigningKey.generate(KeyAlg.ES256)
    pem = key.to_encrypted_pem("correct horse")
    assert b"ENCRYPTED PRIVATE KEY" in pem
    assert SigningKey.from_encrypted_pem(pem, "correct horse").kid == key.kid
    with pytest.raises(KeyStoreError) as err:
        SigningKey.from_encrypted_pem(pem, "wrong")
    assert err.value.reason is Reason.KEY_STORE


def test_passphrase_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = SigningKey.generate()
    monkeypatch.delenv(PASSPHRASE_ENV, raising=False)
    with pytest.raises(KeyStoreError):
        key.to_encrypted_pem()
    monkeypatch.setenv(PASSPHRASE_ENV, "from-env")
    pem = key.to_encrypted_pem()
    assert SigningKey.from_encrypted_pem(pem, "from-env").kid == key.kid


def test_keyring_rotation_keeps_old_keys_for_verification(tmp_path: Path) -> None:
    ring = KeyRing.generate()
    old = ring.active
    old_token = old.sign_jwt({"n": 1}, kid=old.kid, typ="JWT")
    new = ring.rotate(KeyAlg.ES256)
    assert ring.active is new and ring.is_retired(old.kid)
    assert [k.kid for k in ring.keys()] == [new.kid, old.kid]
    retired = ring.get(old.kid)
    assert retired is not None
    assert jwt.decode(old_token, retired.public_key, algorithms=["EdDSA"]) == {"n": 1}

    ring.save(tmp_path / "keys", "pw")
    for path in (tmp_path / "keys").iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    loaded = KeyRing.load(tmp_path / "keys", "pw")
    assert loaded.active.kid == new.kid
    assert loaded.is_retired(old.kid)
    with pytest.raises(KeyStoreError):
        loaded.remove(new.kid)
    loaded.remove(old.kid)
    assert loaded.get(old.kid) is None


def test_keyring_load_with_wrong_passphrase(tmp_path: Path) -> None:
    KeyRing.generate().save(tmp_path, "pw")
    with pytest.raises(KeyStoreError):
        KeyRing.load(tmp_path, "nope")
