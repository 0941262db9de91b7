"""The outbound HTTP policy of the trust layer, built from the `[identity]` settings.

identity's FetchPolicy only knows an explicit host allow-list; a data space admits members
whose hosts nobody can list in advance, so ``"*"`` in ``allowed_hosts`` accepts any host while
the address checks (no private, link-local or loopback addresses, https only) stay in force.
Loopback over plain http is allowed only for the hosts named in ``allow_http_hosts``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from connector.trust.settings import LOOPBACK_HOSTS, IdentitySettings
from identity import FetchPolicy, Reason, ResolutionError

WILDCARD = "*"


@dataclass(frozen=True)
class TrustFetchPolicy(FetchPolicy):
    any_host: bool = False
    http_hosts: frozenset[str] = frozenset()

    def check_url(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        if _is_loopback(host) and host not in self.http_hosts:
            raise ResolutionError(
                Reason.HOST_NOT_ALLOWED,
                f"loopback host {host} is not allowed: for a local data space use"
                f" development mode ([server] dev_mode = true, `agora init --dev`) or add it"
                f" to [identity] allow_http_hosts in agora.toml (or"
                f" AGORA_IDENTITY_ALLOW_HTTP_HOSTS={host})",
            )
        if self.any_host and host:
            port = urlsplit(url).port
            explicit = dataclasses.replace(
                self, any_host=False, allowed_hosts=frozenset({host, f"{host}:{port}"})
            )
            FetchPolicy.check_url(explicit, url)
            return
        FetchPolicy.check_url(self, url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def fetch_policy(cfg: IdentitySettings) -> TrustFetchPolicy:
    http_hosts = frozenset(h for h in cfg.allow_http_hosts if h in LOOPBACK_HOSTS)
    named = frozenset(h for h in cfg.allowed_hosts if h != WILDCARD)
    return TrustFetchPolicy(
        allowed_hosts=named | http_hosts,
        allow_loopback=bool(http_hosts),
        allow_http=bool(http_hosts),
        timeout=cfg.fetch_timeout_s,
        any_host=WILDCARD in cfg.allowed_hosts,
        http_hosts=http_hosts,
    )
