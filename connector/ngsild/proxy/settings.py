"""The ``[ngsild]`` settings table: embedded broker (default) or proxy to an upstream broker.

    [ngsild]
    mode = "proxy"
    upstream = "http://orion-ld:1026/ngsi-ld/v1"
    upstream_token_env = "AGORA_NGSILD_UPSTREAM_TOKEN"   # optional bearer token for upstream
    timeout_s = 10

Also the subscription delivery knobs (both modes): ``notification_timeout_s``,
``notification_attempts``, ``notification_backoff_s``, ``subscription_refresh_s``; and the
remote @context allow-list of the embedded broker (empty: fully offline, bundled contexts only):

    context_allow = ["https://contexts.example.org/ld/"]  # URL prefixes that may be fetched
    context_timeout_s = 5            context_max_bytes = 262144
    context_cache_size = 64          context_cache_ttl_s = 3600
    context_allow_loopback = false   context_allow_private = false
"""

from __future__ import annotations

import os
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from connector.config import Settings, component_settings
from connector.errors import ConfigError


class NgsiLdSettings(BaseModel):
    # other [ngsild] keys belong to the broker core
    model_config = ConfigDict(extra="ignore")

    mode: Literal["embedded", "proxy"] = "embedded"
    upstream: str = ""
    upstream_token: str = ""
    upstream_token_env: str = ""
    upstream_tenant: str = ""
    timeout_s: float = Field(default=10.0, gt=0)
    notification_timeout_s: float = Field(default=5.0, gt=0)
    notification_attempts: int = Field(default=3, ge=1, le=10)
    notification_backoff_s: float = Field(default=0.5, ge=0)
    notification_workers: int = Field(default=4, ge=1, le=64)
    subscription_refresh_s: float = Field(default=5.0, gt=0)
    periodic_tick_s: float = Field(default=0.5, gt=0)
    context_allow: list[str] = Field(default_factory=list)
    context_timeout_s: float = Field(default=5.0, gt=0, le=60)
    context_max_bytes: int = Field(default=256 * 1024, ge=1024, le=16 * 1024 * 1024)
    context_cache_size: int = Field(default=64, ge=1, le=10_000)
    context_cache_ttl_s: float = Field(default=3600.0, gt=0)
    context_allow_loopback: bool = False
    context_allow_private: bool = False

    @field_validator("context_allow")
    @classmethod
    def _prefixes(cls, v: list[str]) -> list[str]:
        for prefix in v:
            split = urlsplit(prefix)
            # a path is required: "https://example.org" would also allow example.org.evil.net
            if split.scheme not in ("http", "https") or not split.hostname or not split.path:
                raise ValueError(
                    f"{prefix!r}: an http(s) URL prefix with a path, e.g. https://host/contexts/"
                )
        return v

    @field_validator("upstream")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL of the upstream's /ngsi-ld/v1")
        return v.rstrip("/")

    def token(self) -> str:
        if self.upstream_token:
            return self.upstream_token
        return os.environ.get(self.upstream_token_env, "") if self.upstream_token_env else ""


def ngsild_settings(settings: Settings) -> NgsiLdSettings:
    parsed = component_settings(settings, "ngsild", NgsiLdSettings)
    if parsed.mode == "proxy" and not parsed.upstream:
        raise ConfigError(
            str(settings.directory / "agora.toml"),
            "ngsild.upstream",
            "the upstream URL in proxy mode",
        )
    return parsed


def proxy_mode(settings: Settings) -> bool:
    return ngsild_settings(settings).mode == "proxy"
