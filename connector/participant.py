"""Create a participant directory: settings, signing key and the admin API key.

The admin key is shown once and kept in `admin-api-key` (mode 0600) for the participant's own
applications; the settings hold only its SHA-256, so a leaked agora.toml grants nothing.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import tomli_w
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from connector.config import CONFIG_FILE, Role
from connector.errors import ConfigError

ADMIN_KEY_FILE = "admin-api-key"
KEYS_DIR = "keys"


@dataclass(frozen=True)
class InitResult:
    directory: Path
    admin_key: str


def hash_admin_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def init_participant(
    directory: Path,
    name: str,
    role: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    storage_url: str | None = None,
    passphrase: str | None = None,
) -> InitResult:
    """Write a fresh participant directory. Refuses to overwrite an existing one."""
    if (directory / CONFIG_FILE).exists():
        raise ConfigError(str(directory / CONFIG_FILE), "(file)", "no existing participant here")
    try:
        role_value = Role(role).value
    except ValueError:
        raise ConfigError("--role", "role", "one of " + ", ".join(r.value for r in Role)) from None
    directory.mkdir(parents=True, exist_ok=True)
    (directory / KEYS_DIR).mkdir(mode=0o700, exist_ok=True)

    key = ed25519.Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    _write_private(directory / KEYS_DIR / "signing-ed25519.pem", pem)

    admin_key = "agora_" + secrets.token_urlsafe(32)
    _write_private(directory / ADMIN_KEY_FILE, (admin_key + "\n").encode())

    config = {
        "participant": {"name": name, "role": role_value},
        "server": {"host": host, "port": port},
        "storage": {"url": storage_url or "sqlite+aiosqlite:///agora.db"},
        "security": {"admin_key_sha256": hash_admin_key(admin_key)},
    }
    (directory / CONFIG_FILE).write_text(tomli_w.dumps(config), encoding="utf-8")
    return InitResult(directory=directory, admin_key=admin_key)


def read_admin_key(directory: Path) -> str:
    return (directory / ADMIN_KEY_FILE).read_text(encoding="utf-8").strip()
