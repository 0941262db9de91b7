"""A participant's set of keys: one active signing key, older keys kept for verification.

Rotation must not break tokens and credentials already signed, so retired keys stay in the ring
(and in the DID document) until explicitly removed; only the active key signs.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import KeyStoreError, Reason
from .keys import KeyAlg, SigningKey

MANIFEST = "keyring.json"


@dataclass
class KeyEntry:
    key: SigningKey
    created: float
    retired: float | None = None


class KeyRing:
    """Ordered keys; the active key is the newest unretired one."""

    def __init__(self, entries: list[KeyEntry], active_kid: str) -> None:
        self._entries = {e.key.kid: e for e in entries}
        if active_kid not in self._entries:
            raise KeyStoreError(Reason.KEY_STORE, f"active key {active_kid} is not in the ring")
        self._active = active_kid

    @classmethod
    def generate(cls, alg: KeyAlg | str = KeyAlg.EDDSA) -> KeyRing:
        key = SigningKey.generate(alg)
        return cls([KeyEntry(key, time.time())], key.kid)

    @property
    def active(self) -> SigningKey:
        return self._entries[self._active].key

    def keys(self) -> list[SigningKey]:
        """All keys that still verify, active first."""
        rest = [e.key for k, e in self._entries.items() if k != self._active]
        return [self.active, *rest]

    def get(self, kid: str) -> SigningKey | None:
        entry = self._entries.get(kid)
        return entry.key if entry else None

    def is_retired(self, kid: str) -> bool:
        entry = self._entries.get(kid)
        return entry is not None and entry.retired is not None

    def rotate(self, alg: KeyAlg | str | None = None) -> SigningKey:
        """Make a new active key; the previous one is retired but kept for verification."""
        new = SigningKey.generate(alg or self.active.alg)
        now = time.time()
        self._entries[self._active].retired = now
        self._entries[new.kid] = KeyEntry(new, now)
        self._active = new.kid
        return new

    def remove(self, kid: str) -> None:
        """Drop a retired key for good (signatures made with it stop verifying)."""
        if kid == self._active:
            raise KeyStoreError(Reason.KEY_STORE, "cannot remove the active key")
        self._entries.pop(kid, None)

    def save(self, directory: str | Path, passphrase: str | bytes | None = None) -> None:
        """Write every key as encrypted PKCS8 PEM plus a manifest; files are owner-only."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        manifest: dict[str, Any] = {"active": self._active, "keys": []}
        for kid, entry in self._entries.items():
            _write_private(path / f"{kid}.pem", entry.key.to_encrypted_pem(passphrase))
            manifest["keys"].append(
                {
                    "kid": kid,
                    "alg": entry.key.alg.value,
                    "created": entry.created,
                    "retired": entry.retired,
                }
            )
        _write_private(path / MANIFEST, json.dumps(manifest, indent=2).encode())

    @classmethod
    def load(cls, directory: str | Path, passphrase: str | bytes | None = None) -> KeyRing:
        path = Path(directory)
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            entries = []
            for item in manifest["keys"]:
                key = SigningKey.from_encrypted_pem(
                    (path / f"{item['kid']}.pem").read_bytes(), passphrase
                )
                if key.kid != item["kid"]:
                    raise KeyStoreError(Reason.KEY_STORE, f"key file {item['kid']} was altered")
                entries.append(KeyEntry(key, float(item["created"]), item.get("retired")))
            return cls(entries, manifest["active"])
        except (OSError, KeyError, ValueError) as exc:
            raise KeyStoreError(Reason.KEY_STORE, f"cannot load key ring: {exc}") from exc


def _write_private(path: Path, data: bytes) -> None:
    """Atomic owner-only write so a crash never leaves a half-written key."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
