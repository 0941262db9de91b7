"""The participant's signing key, read from its directory (decrypted with the passphrase env)."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from connector.config import Settings
from connector.errors import ConfigError

SIGNING_KEY_FILE = "keys/signing-ed25519.pem"
SIGNING_KEY_ID = "key-1"


def signing_kid(settings: Settings) -> str:
    """The DID URL of the verification method that signs tree heads, agreements and tokens."""
    return f"{settings.did}#{SIGNING_KEY_ID}"


def load_signing_key(settings: Settings) -> ed25519.Ed25519PrivateKey:
    path = settings.directory / SIGNING_KEY_FILE
    env_name = settings.security.key_passphrase_env
    passphrase = os.environ.get(env_name)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "the participant's signing key") from None
    try:
        key = serialization.load_pem_private_key(
            pem, password=passphrase.encode() if passphrase else None
        )
    except TypeError:
        raise ConfigError(str(path), env_name, "the passphrase of the encrypted key") from None
    except ValueError:
        raise ConfigError(str(path), env_name, "the right passphrase for the key") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ConfigError(str(path), "(key)", "an Ed25519 private key")
    return key
