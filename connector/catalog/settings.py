"""`[catalog]`: whether this connector runs the federated catalog, and its crawler's bounds."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from connector.config import Role, Settings, component_settings


class StaticNode(BaseModel):
    model_config = ConfigDict(extra="forbid")

    did: str = Field(min_length=8, max_length=500, pattern=r"^did:")
    url: str = Field(min_length=8, max_length=2000, pattern=r"^https?://")


class CatalogSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: None: on for the authority, off for other participants
    enabled: bool | None = None
    #: crawl the members listed in the authority's participant registry
    registry: bool = True
    #: nodes crawled besides the registry's (an operator's own choice of trusted nodes)
    nodes: list[StaticNode] = Field(default_factory=list, max_length=10_000)
    #: crawl when the connector starts (else first after one period)
    crawl_on_start: bool = True
    period_s: float = Field(default=300.0, ge=1, le=86_400)
    concurrency: int = Field(default=16, ge=1, le=256)
    node_timeout_s: float = Field(default=20.0, gt=0, le=600)
    max_catalog_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    max_depth: int = Field(default=4, ge=0, le=16)
    max_datasets_per_node: int = Field(default=10_000, ge=1, le=1_000_000)
    max_pages: int = Field(default=200, ge=1, le=10_000)
    backoff_s: float = Field(default=30.0, gt=0, le=86_400)
    dead_after: int = Field(default=5, ge=1, le=1000)


def catalog_settings(settings: Settings) -> CatalogSettings:
    return component_settings(settings, "catalog", CatalogSettings)


def is_enabled(settings: Settings, cfg: CatalogSettings) -> bool:
    if cfg.enabled is not None:
        return cfg.enabled
    return settings.participant.role == Role.AUTHORITY
