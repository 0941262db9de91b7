"""Where the trust layer may fetch from, and how long it trusts a trusted-issuers list."""

from __future__ import annotations

import logging

import pytest

from connector.trust.fetching import fetch_policy
from connector.trust.issuers import TrustedIssuersCache
from connector.trust.settings import IdentitySettings
from identity import IdentityError, Reason, ResolutionError, TrustedIssuersList


def test_wildcard_allows_public_https_and_keeps_the_address_guards() -> None:
    policy = fetch_policy(IdentitySettings())
    policy.check_url("https://murcia.example/.well-known/did.json")
    for url in (
        "http://murcia.example/.well-known/did.json",  # plain http
        "https://127.0.0.1/.well-known/did.json",  # loopback
        "https://localhost/x",
        "https://10.0.0.7/x",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://user:pw@murcia.example/x",
    ):
        with pytest.raises(ResolutionError) as err:
            policy.check_url(url)
        assert err.value.reason is Reason.HOST_NOT_ALLOWED, url


def test_named_hosts_and_loopback_http_only_when_configured() -> None:
    policy = fetch_policy(
        IdentitySettings(allowed_hosts=["murcia.example"], allow_http_hosts=["127.0.0.1"])
    )
    policy.check_url("https://murcia.example/x")
    policy.check_url("http://127.0.0.1:8080/.well-known/did.json")
    for url in ("https://other.example/x", "http://localhost:8080/x", "http://127.0.0.2/x"):
        with pytest.raises(ResolutionError):
            policy.check_url(url)


async def test_trusted_issuers_are_cached_for_the_ttl_and_kept_when_unreachable() -> None:
    now = [0.0]
    calls: list[int] = []
    answer: list[TrustedIssuersList | Exception] = []

    async def loader() -> TrustedIssuersList | None:
        calls.append(1)
        item = answer[-1]
        if isinstance(item, Exception):
            raise item
        return item

    first = TrustedIssuersList()
    first.add("did:web:authority.example", ["MembershipCredential"], issuer_type="RootTAO")
    answer.append(first)
    cache = TrustedIssuersCache(loader, ttl=60, log=logging.getLogger("test"), clock=lambda: now[0])
    assert (await cache.current()).get("did:web:authority.example") is not None
    await cache.current()
    assert len(calls) == 1
    now[0] = 61
    answer.append(IdentityError(Reason.UNTRUSTED_ISSUER, "authority down"))
    kept = await cache.current()
    assert kept is first and len(calls) == 2
    answer.append(TrustedIssuersList())
    kept_again = await cache.current()  # the failed refresh did not extend the TTL
    assert kept_again is not first and len(calls) == 3
