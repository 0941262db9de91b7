"""Create a participant directory: settings, identity key ring and the admin API key.

The admin key is shown once and kept in `admin-api-key` (mode 0600) for the participant's own
applications; the settings hold only its SHA-256, so a leaked agora.toml grants nothing. The key
ring (Ed25519) is encrypted when a passphrase is given (see :mod:`connector.keys`).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from connector.admin_key import ADMIN_KEY_FILE, read_admin_key
from connector.config import CONFIG_FILE, ParticipantSettings, Role
from connector.errors import ConfigError
from connector.keys import KEYS_DIR, save_keyring
from identity import KeyAlg, KeyRing

__all__ = ["ADMIN_KEY_FILE", "InitResult", "hash_admin_key", "init_participant", "read_admin_key"]


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
    passphrase_env: str | None = None,
    extra_settings: dict[str, dict[str, Any]] | None = None,
    dev_mode: bool = False,
    profile: dict[str, str] | None = None,
) -> InitResult:
    """Write a fresh participant directory. Refuses to overwrite an existing one.

    ``passphrase_env`` records in agora.toml which environment variable holds the key ring's
    passphrase; ``extra_settings`` adds component sections (e.g. ``{"identity": {...}}``);
    ``dev_mode`` writes ``[server] dev_mode = true`` (loopback peers over plain http);
    ``profile`` adds what the participant says of itself (``country``, ``description``,
    ``homepage``, ``contact_email``) to ``[participant]``, checked before anything is written.
    """
    if (directory / CONFIG_FILE).exists():
        raise ConfigError(str(directory / CONFIG_FILE), "(file)", "no existing participant here")
    try:
        role_value = Role(role).value
    except ValueError:
        raise ConfigError("--role", "role", "one of " + ", ".join(r.value for r in Role)) from None
    participant: dict[str, Any] = {"name": name, "role": role_value}
    participant.update({k: v for k, v in (profile or {}).items() if v})
    try:
        ParticipantSettings.model_validate(participant)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else "participant"
        option = "--" + field.replace("_", "-")
        expected = err["msg"].removeprefix("Value error, ")
        raise ConfigError(option, f"participant.{field}", expected, err.get("input")) from None
    directory.mkdir(parents=True, exist_ok=True)
    save_keyring(directory / KEYS_DIR, KeyRing.generate(KeyAlg.EDDSA), passphrase)

    admin_key = "agora_" + secrets.token_urlsafe(32)
    _write_private(directory / ADMIN_KEY_FILE, (admin_key + "\n").encode())

    config: dict[str, Any] = {
        "participant": participant,
        "server": {"host": host, "port": port, **({"dev_mode": True} if dev_mode else {})},
        "storage": {"url": storage_url or "sqlite+aiosqlite:///agora.db"},
        "security": {
            "admin_key_sha256": hash_admin_key(admin_key),
            **({"key_passphrase_env": passphrase_env} if passphrase_env else {}),
        },
        **(extra_settings or {}),
    }
    (directory / CONFIG_FILE).write_text(tomli_w.dumps(config), encoding="utf-8")
    return InitResult(directory=directory, admin_key=admin_key)
