"""Participant settings: `agora.toml` in the participant directory, overridden by `AGORA_*`.

Every setting is validated at start; a bad one raises :class:`ConfigError` naming the file, the
key and what was expected, so the connector never starts half-configured.

Environment overrides use ``AGORA_<SECTION>_<KEY>``, e.g. ``AGORA_SERVER_PORT=9000`` or
``AGORA_STORAGE_URL=postgresql+asyncpg://agora@db/agora``. A list setting takes JSON or
comma-separated values (``AGORA_IDENTITY_ALLOW_HTTP_HOSTS='["127.0.0.1"]'`` or
``=127.0.0.1,localhost``), a table setting a JSON object; an error names the variable.
"""

from __future__ import annotations

import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.errors import ConfigError

CONFIG_FILE = "agora.toml"
ENV_PREFIX = "AGORA_"


class Role(StrEnum):
    CITY = "city"
    COMPANY = "company"
    CIVIC = "civic"
    AUDITOR = "auditor"
    AUTHORITY = "authority"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ParticipantSettings(_Section):
    name: str = Field(min_length=1, max_length=200)
    role: Role
    did: str = Field(default="", description="empty: derived from server.public_url as did:web")
    #: what the participant says of itself until its profile (PUT /api/v1/participant) says
    #: otherwise; the country (ISO 3166-1 alpha-2) is what a membership application needs
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    description: str = Field(default="", max_length=2000)
    homepage: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)
    contact_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = Field(default="", description="empty: http://host:port")
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    request_timeout_s: float = Field(default=30.0, gt=0)
    shutdown_timeout_s: float = Field(default=10.0, gt=0)
    #: "uvloop" (libuv; the standard loop where it is not installed) or "asyncio"
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"
    #: development mode (``agora init --dev``): peers, callbacks, notification endpoints and
    #: fetched documents may be on loopback or private addresses and use plain http. Never in
    #: production: off by default.
    dev_mode: bool = False
    #: who may read /metrics on the main listener: "admin" (the admin key, as the management
    #: API) or "public" (anyone who can reach the port; only behind a private network)
    metrics_access: Literal["admin", "public"] = "admin"
    #: "host:port" of a second listener serving only /metrics, without a key (bind it to an
    #: address only the scraper reaches, e.g. 127.0.0.1:9464); empty: no second listener
    metrics_listen: str = ""

    @field_validator("metrics_listen")
    @classmethod
    def _host_port(cls, v: str) -> str:
        if v:
            split_listen(v)
        return v

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return v.rstrip("/")


class StorageSettings(_Section):
    url: str = Field(default="sqlite+aiosqlite:///agora.db")
    #: connections kept open per replica (as many again may open under bursts); with N
    #: replicas on one PostgreSQL, keep 2 x N x pool_size below its max_connections
    pool_size: int = Field(default=20, ge=1, le=200)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, v: str) -> str:
        if not v.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return v


class SecuritySettings(_Section):
    admin_key_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    key_passphrase_env: str = "AGORA_KEY_PASSPHRASE"
    #: Hosts a peer may name as a callback or notification endpoint besides the DSP endpoint its
    #: DID document declares: a host, ``host:port``, ``scheme://host:port``, ``*.domain`` or
    #: ``*``. Empty by default; development mode adds the loopback names.
    allowed_callback_hosts: list[str] = Field(default_factory=list)


class LoggingSettings(_Section):
    level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR)$")
    json_format: bool = Field(default=True, alias="json")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Settings(BaseModel):
    """All settings of one participant's connector."""

    model_config = ConfigDict(extra="forbid")

    participant: ParticipantSettings
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    security: SecuritySettings
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    # Sections of later components are kept as plain tables and validated by their owners.
    extra: dict[str, dict[str, Any]] = Field(default_factory=dict, exclude=True)
    #: "section.key" -> the AGORA_* variable that set it, so that errors name the variable
    env_sources: dict[str, str] = Field(default_factory=dict, exclude=True)

    directory: Path = Field(default=Path("."), exclude=True)

    @property
    def public_url(self) -> str:
        return self.server.public_url or f"http://{self.server.host}:{self.server.port}"

    @property
    def did(self) -> str:
        return self.participant.did or did_web_for(self.public_url)

    @property
    def database_url(self) -> str:
        """The storage URL with a relative SQLite path resolved against the directory."""
        url = self.storage.url
        prefix = "sqlite+aiosqlite:///"
        if url.startswith(prefix):
            path = url[len(prefix) :]
            if path and path != ":memory:" and not path.startswith("/"):
                return prefix + str((self.directory / path).resolve())
        return url


KNOWN_SECTIONS = {"participant", "server", "storage", "security", "logging"}
COMPONENT_SECTIONS = {"ngsild", "dsp", "identity", "ledger", "policies", "marketplace", "catalog"}


M = TypeVar("M", bound=BaseModel)


def component_settings(settings: Settings, section: str, model: type[M]) -> M:
    """Validate a component's own `[section]` table; the first fault becomes a ConfigError
    naming the file, the dotted key and what was expected, as for the core sections."""
    values = dict(settings.extra.get(section, {}))
    for key, value in values.items():
        variable = settings.env_sources.get(f"{section}.{key}")
        if variable is not None:
            values[key] = env_value(variable, value, _field_annotation(model, key))
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join([section, *(str(p) for p in err["loc"])])
        got = None if err["type"] == "missing" else err.get("input")
        expected = err["msg"].removeprefix("Value error, ")
        variable = settings.env_sources.get(".".join([section, *(str(p) for p in err["loc"][:1])]))
        if variable is not None:
            raise ConfigError("environment", variable, expected, got) from None
        raise ConfigError(str(settings.directory / CONFIG_FILE), key, expected, got) from None


def split_listen(address: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) as (host, port), or ValueError saying why."""
    host, sep, port_text = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError("host:port, e.g. 127.0.0.1:9464")
    return host, int(port_text)


def _field_annotation(model: type[BaseModel], key: str) -> Any:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.annotation
    return None


def _container(annotation: Any) -> type | None:
    """``list`` or ``dict`` if the field holds one (also inside ``X | None``), else None."""
    origin = typing.get_origin(annotation)
    if origin in (list, set, tuple, frozenset):
        return list
    if origin is dict or annotation is dict:
        return dict
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _container(arg)
            if found is not None:
                return found
    return None


def env_value(variable: str, value: Any, annotation: Any) -> Any:
    """An ``AGORA_*`` string as the setting's type: JSON for a list or table (a list may also
    be comma-separated), the string itself otherwise. A bad one names the variable."""
    if not isinstance(value, str):
        return value
    kind = _container(annotation)
    text = value.strip()
    if kind is None:
        return value
    if text.startswith(("[", "{")) or kind is dict:
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            expected = "a JSON object" if kind is dict else "a JSON list or comma-separated values"
            raise ConfigError("environment", variable, f"{expected} ({exc})", value) from None
        if not isinstance(parsed, kind):
            wanted = "a JSON object" if kind is dict else "a JSON list"
            raise ConfigError("environment", variable, wanted, value)
        return parsed
    return [item.strip() for item in text.split(",") if item.strip()]


def did_web_for(url: str) -> str:
    """did:web identifier for a base URL (port percent-encoded, path segments as ':')."""
    rest = url.split("://", 1)[1].rstrip("/")
    host, _, path = rest.partition("/")
    did = "did:web:" + host.replace(":", "%3A")
    if path:
        did += ":" + path.replace("/", ":")
    return did


def _env_overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or name == "AGORA_KEY_PASSPHRASE":
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("_")
        if section in KNOWN_SECTIONS | COMPONENT_SECTIONS and key:
            out.setdefault(section, {})[key] = value
    return out


def load_settings(directory: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate `DIR/agora.toml` with environment overrides."""
    env = os.environ if env is None else env
    path = directory / CONFIG_FILE
    source = str(path)
    try:
        raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(source, "(file)", "an agora.toml; create one with `agora init`") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "(syntax)", f"valid TOML: {exc}") from None
    env_values = _env_overrides(env)
    env_sources: dict[str, str] = {}
    core_models = {n: f.annotation for n, f in Settings.model_fields.items()}
    for section, values in env_values.items():
        for key, value in values.items():
            variable = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            env_sources[f"{section}.{key}"] = variable
            model = core_models.get(section)
            if isinstance(model, type) and issubclass(model, BaseModel):
                values[key] = env_value(variable, value, _field_annotation(model, key))
        raw.setdefault(section, {}).update(values)
    unknown = set(raw) - KNOWN_SECTIONS - COMPONENT_SECTIONS
    if unknown:
        known = ", ".join(sorted(KNOWN_SECTIONS | COMPONENT_SECTIONS))
        raise ConfigError(source, f"[{sorted(unknown)[0]}]", f"one of the sections {known}")
    extra = {k: raw.pop(k) for k in list(raw) if k in COMPONENT_SECTIONS}
    try:
        settings = Settings.model_validate(
            {**raw, "extra": extra, "directory": directory, "env_sources": env_sources}
        )
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        var = env_sources.get(".".join(str(p) for p in err["loc"][:2]))
        origin = "environment" if var is not None else source
        if var is not None:
            key = var
        expected = err["msg"].removeprefix("Value error, ")
        got = None if err["type"] == "missing" else err.get("input")
        raise ConfigError(origin, key, expected, got) from None
    return settings
