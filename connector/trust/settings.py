"""The `[identity]` section of agora.toml.

Every outbound fetch the trust layer makes (DID documents, status lists, credential services,
the authority) goes to an attacker-influenced URL, so where it may go is a setting: plain http is
refused except towards the loopback hosts listed in ``allow_http_hosts`` (local demos and tests).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connector.config import Settings, component_settings
from identity.status_list import MAX_CACHE_BYTES

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


class IdentitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: The data-space authority (empty: learnt when this participant requests membership; the
    #: authority itself uses its own DID and URL).
    authority_did: str = ""
    authority_url: str = ""
    #: Hosts whose DID documents, status lists and credential services may be fetched;
    #: "*" means any public host (private and loopback addresses stay refused).
    allowed_hosts: list[str] = Field(default_factory=lambda: ["*"])
    #: Loopback hosts that may be reached over plain http (never in production).
    allow_http_hosts: list[str] = Field(default_factory=list)
    did_cache_ttl_s: float = Field(default=300.0, ge=0)
    status_list_ttl_s: float = Field(default=300.0, ge=0)
    #: Decoded status lists kept in memory, in bytes (an LRU; the spec's minimum list is 16 KiB).
    status_list_cache_bytes: int = Field(default=MAX_CACHE_BYTES, ge=0, le=1024**3)
    trusted_issuers_ttl_s: float = Field(default=300.0, ge=0)
    #: Lifetime of the self-issued ID tokens and access tokens this connector mints.
    token_ttl_s: float = Field(default=300.0, gt=0, le=3600)
    #: Longest ``exp - iat`` of an ID token this connector accepts (a longer-lived token is a
    #: bearer credential a thief could replay for as long).
    max_token_lifetime_s: float = Field(default=300.0, gt=0, le=3600)
    leeway_s: float = Field(default=30.0, ge=0, le=300)
    fetch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    #: Authority only: admit membership requests without an operator's approval (the demo);
    #: only plain members never revoked nor rejected, see connector.trust.authority.
    auto_approve: bool = False
    #: Authority only: how long issued membership credentials are valid.
    credential_validity_days: int = Field(default=365, ge=1, le=3650)

    @model_validator(mode="after")
    def _mint_what_we_accept(self) -> IdentitySettings:
        if self.token_ttl_s > self.max_token_lifetime_s:
            raise ValueError(
                f"token_ttl_s ({self.token_ttl_s:g}) exceeds max_token_lifetime_s "
                f"({self.max_token_lifetime_s:g}): peers would refuse our tokens"
            )
        return self

    @field_validator("authority_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("an http:// or https:// URL")
        return v.rstrip("/")

    @field_validator("authority_did")
    @classmethod
    def _did(cls, v: str) -> str:
        if v and not v.startswith("did:"):
            raise ValueError("a DID")
        return v

    @field_validator("allow_http_hosts")
    @classmethod
    def _loopback_only(cls, v: list[str]) -> list[str]:
        for host in v:
            if host not in LOOPBACK_HOSTS:
                raise ValueError(f"loopback hosts only ({', '.join(sorted(LOOPBACK_HOSTS))})")
        return v


def identity_settings(settings: Settings) -> IdentitySettings:
    """The `[identity]` section; in development mode (`agora init --dev`) loopback peers may
    be fetched over plain http unless the section sets its own list (even an empty one), so a
    local data space needs no second setting."""
    cfg = component_settings(settings, "identity", IdentitySettings)
    if settings.server.dev_mode and "allow_http_hosts" not in cfg.model_fields_set:
        cfg = cfg.model_copy(update={"allow_http_hosts": sorted(LOOPBACK_HOSTS)})
    return cfg
