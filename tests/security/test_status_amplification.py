"""Issue 14, item 4: status lists as a memory amplifier.

A civic group trusted for ConsentCredential issues a consent whose ``credentialStatus`` points
at many lists, each a few KiB of GZIP that inflate to 15 MiB, served from a loopback server.
The verifier refuses with ``status_too_large`` and its status-list cache (by its own byte
accounting) never holds more than its bound.
"""

from __future__ import annotations

import base64
import gzip
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from identity import (
    Bitstring,
    ConsentCredential,
    CredentialError,
    HttpStatusListFetcher,
    IdentityError,
    Participant,
    Reason,
    StatusListChecker,
    create_id_token,
    issue_credential,
    type_scope,
    verify_credential_jwt,
)
from identity.contexts import CREDENTIALS_V2, STATUS_LIST_V1
from identity.credential_service import DCP_CONTEXT
from identity.credentials import to_xsd_datetime
from identity.status_list import MAX_LIST_BYTES, MAX_STATUS_ENTRIES, MIN_BITS
from tests.identity.world import SCOPES, World
from tests.trust.conftest import Node, Space, space  # noqa: F401  (the fixture)

MIB = 1024 * 1024
CONSENT_SCOPES = [*SCOPES, type_scope("ConsentCredential")]
#: The membership credential's two lists (revocation, suspension) at the spec's minimum size.
AUTHORITY_LISTS = 2 * MIN_BITS // 8


def _encoded(size: int) -> str:
    """``encodedList`` of ``size`` zero bytes (GZIP, multibase base64url)."""
    packed = gzip.compress(bytes(size), mtime=0)
    return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


class ListServer:
    """Serves signed status list credentials at /lists/<name>, each inflating to its size."""

    def __init__(self, issuer: Participant) -> None:
        self.issuer = issuer
        self.encoded: dict[str, str] = {}
        self.hits: dict[str, int] = {}
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/lists/{name}", self._list)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self.runner.addresses[0][1]}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def serve(self, name: str, encoded: str) -> str:
        self.encoded[name] = encoded
        return f"{self.base}/lists/{name}"

    async def _list(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.hits[name] = self.hits.get(name, 0) + 1
        url = f"{self.base}/lists/{name}"
        now = time.time()
        credential = {
            "@context": [CREDENTIALS_V2, STATUS_LIST_V1],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.issuer.did,
            "validFrom": to_xsd_datetime(now),
            "validUntil": to_xsd_datetime(now + 3600),
            "credentialSubject": {
                "id": f"{url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": self.encoded[name],
            },
        }
        token = issue_credential(self.issuer, credential)
        return web.Response(text=token, content_type="application/vc+jwt")


@pytest.fixture
async def setting() -> AsyncIterator[tuple[World, Participant, ListServer]]:
    world = World()
    await world.build()
    civic = world.participant("civic")
    world.trusted.add(civic.did, ["ConsentCredential"], issuer_type="TI")
    server = ListServer(civic)
    await server.start()
    try:
        yield world, civic, server
    finally:
        await server.stop()
        await world.stop()


def _entry(url: str, index: int = 7) -> dict[str, Any]:
    return {
        "id": f"{url}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


def _consent(world: World, civic: Participant, urls: list[str]) -> str:
    claims = ConsentCredential(
        id=civic.did,
        residentGroup=True,
        purpose="https://w3id.org/dpv#ServiceProvision",
        grantee=world.company.did,
    )
    return world.issue(civic, claims, status=[_entry(u) for u in urls])


async def _refused(world: World, consents: list[str]) -> CredentialError:
    world.present([world.membership, world.participant_vc, *consents])
    with pytest.raises(CredentialError) as err:
        await world.call(world.header(CONSENT_SCOPES), CONSENT_SCOPES)
    return err.value


async def test_the_issues_attack_24_entries_is_refused_before_any_fetch(
    setting: tuple[World, Participant, ListServer],
) -> None:
    world, civic, server = setting
    bomb = _encoded(15 * MIB)
    urls = [server.serve(f"b{i}", bomb) for i in range(24)]
    error = await _refused(world, [_consent(world, civic, urls)])
    assert error.reason is Reason.STATUS_TOO_LARGE
    assert "24 status entries" in error.detail and "at most 4" in error.detail
    assert server.hits == {}
    assert world.status_checker.cached_bytes == AUTHORITY_LISTS  # nothing of the civic's


async def test_a_list_inflating_to_15_mib_is_refused_and_not_kept(
    setting: tuple[World, Participant, ListServer],
) -> None:
    world, civic, server = setting
    bomb = _encoded(15 * MIB)
    urls = [server.serve(f"b{i}", bomb) for i in range(4)]
    error = await _refused(world, [_consent(world, civic, urls)])
    assert error.reason is Reason.STATUS_TOO_LARGE
    assert f"inflates beyond {MAX_LIST_BYTES} bytes" in error.detail
    assert sum(server.hits.values()) == 1  # refused at the first list
    assert world.status_checker.cached_bytes == AUTHORITY_LISTS  # nothing of the civic's


async def test_one_presentation_may_not_inflate_more_than_its_budget(
    setting: tuple[World, Participant, ListServer],
) -> None:
    world, civic, server = setting
    large = _encoded(768 * 1024)  # under the per-list bound; eight of them are not
    consents = [
        _consent(world, civic, [server.serve(f"c{c}l{i}", large) for i in range(4)])
        for c in range(2)
    ]
    error = await _refused(world, consents)
    assert error.reason is Reason.STATUS_TOO_LARGE
    assert "this presentation's status lists" in error.detail
    fetched = sum(server.hits.values())
    assert 0 < fetched < 8  # stopped before all eight
    checker = world.status_checker
    assert 0 < checker.cached_bytes <= checker.max_cache_bytes


async def test_the_status_list_cache_is_bounded_by_bytes(
    setting: tuple[World, Participant, ListServer],
) -> None:
    world, civic, server = setting
    checker = StatusListChecker(
        HttpStatusListFetcher(world.http), world.resolver, max_cache_bytes=2 * MIB
    )
    world.verifier.status_checker = checker
    large = _encoded(768 * 1024)
    for round_ in range(8):
        urls = [server.serve(f"r{round_}l{i}", large) for i in range(2)]
        world.present([world.membership, world.participant_vc, _consent(world, civic, urls)])
        caller = await world.call(world.header(CONSENT_SCOPES), CONSENT_SCOPES)
        assert caller.did == world.company.did  # legitimate consents still verify
        assert checker.cached_bytes <= 2 * MIB, round_
    assert checker.cached_bytes > MIB  # the most recent lists are kept
    # The most recently used list is still cached: verifying again does not fetch it.
    before = dict(server.hits)
    caller = await world.call(world.header(CONSENT_SCOPES), CONSENT_SCOPES)
    assert server.hits == before


def test_a_gzip_bomb_stops_inflating_at_the_bound() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(MIB)
    packed = b"".join(packer.compress(chunk) for _ in range(256)) + packer.flush()
    encoded = "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()
    del packed
    tracemalloc.start()
    try:
        with pytest.raises(IdentityError) as err:
            Bitstring.decode(encoded, MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert err.value.reason is Reason.STATUS_TOO_LARGE
    assert peak < 4 * MIB, peak  # a 256 MiB bomb, never more than the bound inflated


async def _store_consent(holder: Node, issuer: Node, consent: str) -> tuple[int, Any]:
    return await holder.call(
        "POST",
        "/dcp/credentials",
        admin=False,
        headers={
            "Authorization": "Bearer " + create_id_token(issuer.trust.participant, holder.did)
        },
        json={
            "@context": [DCP_CONTEXT],
            "type": "CredentialMessage",
            "credentials": [
                {"credentialType": "ConsentCredential", "payload": consent, "format": "jwt"}
            ],
        },
    )


async def test_the_attack_against_a_running_connector(space: Space) -> None:  # noqa: F811
    """The issue's setting: the company holds a consent from the civic group pointing at 24
    (then 4) inflating lists and presents it to the city's connector, which refuses it."""
    authority = await space.add("authority", "authority", identity={"auto_approve": True})
    city = await space.add("city", "city")
    civic = await space.add("civic", "civic")
    company = await space.add("company", "company")
    for node in (city, civic, company):
        await space.onboard(node, authority)
    server = ListServer(civic.trust.participant)
    await server.start()
    try:
        bomb = _encoded(15 * MIB)
        checker = city.trust.status_checker
        for label, count in (("many", 24), ("few", 4)):
            urls = [server.serve(f"{label}{i}", bomb) for i in range(count)]
            claims = ConsentCredential(
                id=civic.did,
                residentGroup=True,
                purpose="https://w3id.org/dpv#ServiceProvision",
                grantee=company.did,
            )
            body = claims.to_credential(
                civic.did,
                valid_until=time.time() + 3600,
                status=[_entry(u) for u in urls],
                credential_id=f"urn:uuid:consent-{label}",
            )
            consent = issue_credential(civic.trust.participant, body)
            await company.trust.issuance.open(civic.did, ["ConsentCredential"])
            status, stored = await _store_consent(company, civic, consent)
            if count > MAX_STATUS_ENTRIES:
                # An honest wallet refuses it; the attacker's own wallet holds it anyway.
                assert status == 400 and "status entries" in stored["detail"], stored
                vc = await verify_credential_jwt(consent, company.trust.resolver)
                await company.trust.credentials.add_all([(vc, consent)])
            else:
                assert status == 200, stored
            scopes = ["MembershipCredential", "ParticipantCredential", "ConsentCredential"]
            status, minted = await company.call(
                "POST", "/api/v1/trust/tokens", json={"audience": city.did, "scopes": scopes}
            )
            assert status == 201, minted
            status, verdict = await city.call(
                "POST", "/api/v1/trust/verify", json={"token": minted["token"], "scopes": scopes}
            )
            assert status == 200 and verdict["verified"] is False, verdict
            assert verdict["reason"] == "status_too_large", verdict
            assert checker.cached_bytes <= AUTHORITY_LISTS, label  # the authority's lists only
            await company.call("DELETE", f"/api/v1/trust/credentials/urn:uuid:consent-{label}")
        assert sum(server.hits.values()) == 1  # 24 entries: no fetch; 4: the first list only
    finally:
        await server.stop()


async def test_the_cache_bound_is_a_setting(space: Space) -> None:  # noqa: F811
    city = await space.add("city", "city", identity={"status_list_cache_bytes": 64 * 1024})
    assert city.trust.status_checker.max_cache_bytes == 64 * 1024
