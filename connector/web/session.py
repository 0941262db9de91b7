"""Staff sessions for the console: who is signed in, with which role, and CSRF tokens.

A session is a signed cookie (HMAC-SHA256 under a key derived from the connector's admin key
hash), so a restart or a second replica keeps it without a session table; it names the staff
key it came from, which is looked up on every request, so deleting a key ends its sessions.
Each form carries a CSRF token bound to the session id: a token of another or an earlier
session, or none, is refused. The cookie is HttpOnly and SameSite=Strict.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Settings, component_settings

COOKIE = "agora_session"
PRE_COOKIE = "agora_signin"
ROLES = ("viewer", "editor", "admin")
ADMIN_KEY_ID = "admin"


class WebSettings(BaseModel):
    """The ``[web]`` section of agora.toml."""

    model_config = ConfigDict(extra="forbid")

    #: pages on or off
    enabled: bool = True
    #: how long a console session lasts
    session_ttl_s: int = Field(default=8 * 3600, ge=1, le=7 * 86_400)
    #: Secure cookies (set when served over https)
    secure_cookies: bool | None = None


def web_settings(settings: Settings) -> WebSettings:
    return component_settings(settings, "web", WebSettings)


def secret_for(settings: Settings) -> bytes:
    """The signing key of sessions, derived (one way) from the admin key's hash."""
    material = settings.security.admin_key_sha256.encode()
    return hmac.new(material, b"agora.web.session.v1", hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    sid: str
    key_id: str
    name: str
    role: str
    expires: int

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, purpose: str, text: str) -> str:
    return _b64(hmac.new(secret, f"{purpose}\0{text}".encode(), hashlib.sha256).digest())


def mint(
    secret: bytes, key_id: str, name: str, role: str, ttl_s: int, now: float | None = None
) -> tuple[Session, str]:
    """A new session and its cookie value."""
    issued = time.time() if now is None else now
    session = Session(secrets.token_urlsafe(16), key_id, name, role, int(issued + ttl_s))
    doc = {"s": session.sid, "k": key_id, "n": name, "r": role, "e": session.expires}
    payload = _b64(json.dumps(doc, separators=(",", ":")).encode())
    return session, f"{payload}.{_sign(secret, 'session', payload)}"


def read(secret: bytes, value: str | None, now: float | None = None) -> Session | None:
    """The session a cookie names, if its signature holds and it has not expired."""
    if not value or len(value) > 2000 or value.count(".") != 1:
        return None
    payload, mac = value.split(".")
    if not hmac.compare_digest(mac, _sign(secret, "session", payload)):
        return None
    try:
        doc: Any = json.loads(_unb64(payload))
        session = Session(str(doc["s"]), str(doc["k"]), str(doc["n"]), str(doc["r"]), int(doc["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.role not in ROLES or session.expires <= (time.time() if now is None else now):
        return None
    return session


def csrf_token(secret: bytes, sid: str) -> str:
    return _sign(secret, "csrf", sid)


def csrf_ok(secret: bytes, sid: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(secret, sid))


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
