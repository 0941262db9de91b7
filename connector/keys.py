"""The participant's identity key ring on disk: DIR/keys (PKCS8 PEM per key + keyring.json).

The ring is identity's :class:`~identity.KeyRing`; this module only decides where it lives and
how it is protected. Keys are encrypted with the passphrase from the environment variable named
by ``security.key_passphrase_env`` when it is set at `agora init`, and stay unencrypted (mode
0600 in a 0700 directory) otherwise, so a laptop demo needs no secret while production can.
The manifest has the same shape ``KeyRing.save`` writes, so either side can read the other's.

Rotation (``agora keys rotate``) retires the active key but keeps it in the ring, so the DID
document keeps listing it and everything it signed (tree heads, credentials) still verifies.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from connector.config import Settings
from connector.errors import ConfigError
from identity import KeyRing, Participant, SigningKey
from identity.keyring import MANIFEST, KeyEntry

if TYPE_CHECKING:
    from connector.http.context import ConnectorContext

KEYS_DIR = "keys"
LEGACY_KEY_FILE = "signing-ed25519.pem"  # written by the first `agora init`, imported on load
_ENCRYPTED = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def _write_private(path: Path, data: bytes) -> None:
    """Atomic owner-only write: a crash never leaves a half-written key or manifest."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _pem(key: SigningKey, passphrase: str | None) -> bytes:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )


def _read_manifest(keys_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((keys_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        where = str(keys_dir / MANIFEST)
        raise ConfigError(where, "(file)", f"a readable manifest: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise ConfigError(str(keys_dir / MANIFEST), "keys", "a list of keys")
    return data


def save_keyring(keys_dir: Path, ring: KeyRing, passphrase: str | None) -> None:
    """Write every key of the ring, then the manifest (so a crash leaves the old manifest)."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    previous = {k["kid"]: k for k in (_read_manifest(keys_dir) or {"keys": []})["keys"]}
    now = time.time()
    entries = []
    for key in ring.keys():
        _write_private(keys_dir / f"{key.kid}.pem", _pem(key, passphrase))
        known = previous.get(key.kid, {})
        retired = known.get("retired") or (now if ring.is_retired(key.kid) else None)
        entries.append(
            {
                "kid": key.kid,
                "alg": key.alg.value,
                "created": known.get("created", now),
                "retired": retired,
            }
        )
    manifest = {"active": ring.active.kid, "keys": entries}
    _write_private(keys_dir / MANIFEST, json.dumps(manifest, indent=2).encode())


def _load_key(path: Path, passphrase: str | None, env_name: str) -> SigningKey:
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "a key of the participant's key ring") from None
    encrypted = pem.lstrip().startswith(_ENCRYPTED)
    if encrypted and not passphrase:
        raise ConfigError(
            str(path), env_name, f"the passphrase of the encrypted key ring in ${env_name}"
        )
    try:
        private = serialization.load_pem_private_key(
            pem, password=passphrase.encode() if encrypted and passphrase else None
        )
    except (TypeError, ValueError):
        raise ConfigError(str(path), env_name, "the right passphrase for the key ring") from None
    if not isinstance(private, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ConfigError(str(path), "(key)", "an Ed25519 or P-256 private key")
    return SigningKey.from_private_key(private)


def _passphrase(settings: Settings) -> str | None:
    return os.environ.get(settings.security.key_passphrase_env) or None


def load_keyring(settings: Settings) -> KeyRing:
    """The participant's key ring; a first-generation single key file is imported as-is."""
    keys_dir = settings.directory / KEYS_DIR
    env_name = settings.security.key_passphrase_env
    passphrase = _passphrase(settings)
    manifest = _read_manifest(keys_dir)
    if manifest is None:
        legacy = keys_dir / LEGACY_KEY_FILE
        if not legacy.exists():
            raise ConfigError(str(keys_dir / MANIFEST), "(file)", "the participant's key ring")
        key = _load_key(legacy, passphrase, env_name)
        return KeyRing([KeyEntry(key, legacy.stat().st_mtime)], key.kid)
    entries = []
    try:
        for item in manifest["keys"]:
            key = _load_key(keys_dir / f"{item['kid']}.pem", passphrase, env_name)
            if key.kid != item["kid"]:
                raise ConfigError(str(keys_dir), item["kid"], "a key whose thumbprint is its kid")
            entries.append(KeyEntry(key, float(item["created"]), item.get("retired")))
        return KeyRing(entries, manifest["active"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(str(keys_dir / MANIFEST), "(file)", f"a valid manifest: {exc}") from None


def load_participant(settings: Settings) -> Participant:
    """identity's view of this participant: its DID (did:web of public_url) and key ring."""
    return Participant(did=settings.did, keyring=load_keyring(settings))


def participant_of(ctx: ConnectorContext) -> Participant:
    """The running connector's Participant, loaded once (the passphrase KDF is slow on purpose)
    and shared by every component that signs: provenance, trust, DSP."""
    found = ctx.components.get("participant")
    if not isinstance(found, Participant):
        found = load_participant(ctx.settings)
        ctx.components["participant"] = found
    return found


def rotate_keys(settings: Settings) -> tuple[str, str]:
    """Make a new active key and keep the old one for verification; returns (old, new) kids.

    A running connector picks the new key up when it restarts; until then it keeps signing
    with the old one, which stays valid because it stays in the DID document.
    """
    ring = load_keyring(settings)
    old = ring.active.kid
    new = ring.rotate().kid
    save_keyring(settings.directory / KEYS_DIR, ring, _passphrase(settings))
    return old, new


def signing_kid(settings: Settings) -> str:
    """The DID URL of the active verification method (Participant.kid)."""
    return load_participant(settings).kid


def load_signing_key(settings: Settings) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
    """The active private key (for signers that take a raw key, e.g. the ledger's)."""
    return load_keyring(settings).active.private_key
