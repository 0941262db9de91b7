"""SSRF through callbacks, notifications, process ids, receipts and the pull proxy (issue 14,
items 6 and 7): every URL a peer chose goes through the one guarded client, redirects
included; loopback is reachable only in development mode.

An "attacker" server on loopback records every request it gets; each refusal is checked by
its answer, by what was (not) stored, and by the attacker having seen nothing.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tomllib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tomli_w
from aiohttp import web
from sqlalchemy import func, insert, select

from connector.config import load_settings
from connector.dsp import messages as m
from connector.dsp.runtime import now
from connector.dsp.tables import agreements, negotiations, outbox, transfers
from connector.outbound import OutboundError, PeerHttp
from connector.participant import init_participant, read_admin_key
from connector.runtime import Connector
from identity.http_guard import FetchPolicy
from tests.dsp.helpers import Node, negotiate, running_pair, signed
from tests.support import NgsiClient

ERR = "https://uri.etsi.org/ngsi-ld/errors/"


class Attacker:
    """A loopback server that answers every request (optionally with a redirect) and keeps
    a list of what it was asked."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.redirect_to = redirect_to
        self.hits: list[tuple[str, str]] = []
        self.hit = asyncio.Event()
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _any(self, request: web.Request) -> web.Response:
        self.hits.append((request.method, request.path_qs))
        self.hit.set()
        if self.redirect_to is not None:
            raise web.HTTPTemporaryRedirect(self.redirect_to)
        return web.json_response({"ok": True})

    async def __aenter__(self) -> Attacker:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._any)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def attacker() -> AsyncIterator[Attacker]:
    async with Attacker() as server:
        yield server


def _set(directory: Path, section: str, **values: Any) -> None:
    path = directory / "agora.toml"
    doc = tomllib.loads(path.read_text())
    doc.setdefault(section, {}).update(values)
    path.write_text(tomli_w.dumps(doc))


async def _production_node(root: Path, http: aiohttp.ClientSession, **security: Any) -> Node:
    """A connector with the default (production) settings; it listens on loopback only
    because the tests must, which does not make its outbound policy any looser."""
    directory = root / f"prod-{uuid.uuid4().hex[:6]}"
    init_participant(
        directory, "City", "city", port=0, extra_settings={"dsp": {"authentication": "self-issued"}}
    )
    if security:
        _set(directory, "security", **security)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    assert connector.settings.server.dev_mode is False
    return Node(connector, read_admin_key(directory), http)


async def _count(node: Node, table: Any) -> int:
    assert node.connector.ctx is not None
    async with node.connector.ctx.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


def _knows(receiver: Node, sender: Node) -> None:
    """``receiver`` has ``sender``'s DID document (as if resolved over https), so the call
    authenticates and the callback check is what decides."""
    assert receiver.dsp.resolver is not None
    receiver.dsp.resolver.add_static(sender.dsp.identity.did_document())


def _request(cpid: str, offer: dict[str, Any], callback: str) -> dict[str, Any]:
    return m.contract_request(cpid, offer, callback_address=callback)


# ------------------------------------------------------------------------ DSP callbacks


async def test_a_loopback_callback_is_refused_in_production(
    tmp_path: Path, attacker: Attacker
) -> None:
    async with running_pair(tmp_path) as (_, company):
        city = await _production_node(tmp_path, company.http)
        try:
            _knows(city, company)
            _, _, offer = await city.publish()
            msg = _request("urn:uuid:c1", offer, f"{attacker.url}/dsp")
            status, body = await signed(company, city, "POST", "/negotiations/request", msg)
            assert status == 400, body
            assert body["@type"] == "ContractNegotiationError"
            assert body["code"] == "CallbackAddressRefused"
            assert await _count(city, negotiations) == 0
            assert await _count(city, outbox) == 0  # nothing queued: nothing will be sent
            assert attacker.hits == []
        finally:
            await city.connector.stop()


async def test_a_listed_loopback_host_is_still_refused_in_production(
    tmp_path: Path, attacker: Attacker
) -> None:
    """The allow-list says where callbacks may go; it cannot switch the address checks off."""
    async with running_pair(tmp_path) as (_, company):
        city = await _production_node(tmp_path, company.http, allowed_callback_hosts=["*"])
        try:
            _knows(city, company)
            _, _, offer = await city.publish()
            for callback in (f"{attacker.url}/dsp", "https://127.0.0.1/dsp", "https://[::1]/dsp"):
                msg = _request(f"urn:uuid:{uuid.uuid4()}", offer, callback)
                status, body = await signed(company, city, "POST", "/negotiations/request", msg)
                assert status == 400 and body["code"] == "CallbackAddressRefused", (callback, body)
            assert await _count(city, negotiations) == 0
            assert attacker.hits == []
        finally:
            await city.connector.stop()


async def test_a_callback_that_is_not_the_callers_dsp_endpoint_is_refused(
    tmp_path: Path, attacker: Attacker
) -> None:
    """Even in development mode a callback is the caller's own DSP endpoint (the origin its
    DID document declares): a peer cannot aim us at a third party."""
    async with running_pair(tmp_path) as (city, company):
        _, _, offer = await city.publish()
        msg = _request("urn:uuid:c2", offer, f"{attacker.url}/dsp")
        status, body = await signed(company, city, "POST", "/negotiations/request", msg)
        assert status == 400 and body["code"] == "CallbackAddressRefused", body
        assert "DID document" in body["reason"][0]
        assert await _count(city, negotiations) == 0
        assert await _count(city, outbox) == 0
        assert attacker.hits == []


async def test_a_listed_callback_may_still_not_be_the_connector_itself(tmp_path: Path) -> None:
    """With loopback listed (dev mode), a peer may not name the provider's own DSP base."""
    city_dir = tmp_path / "city"
    init_participant(
        city_dir,
        "city",
        "city",
        port=0,
        extra_settings={"dsp": {"authentication": "self-issued"}},
        dev_mode=True,
    )
    _set(city_dir, "security", allowed_callback_hosts=["127.0.0.1"])
    async with running_pair(tmp_path) as (city, company):
        _, _, offer = await city.publish()
        msg = _request("urn:uuid:c4", offer, city.dsp_url)
        status, body = await signed(company, city, "POST", "/negotiations/request", msg)
        assert status == 400 and body["code"] == "CallbackAddressRefused", body
        assert "itself" in body["reason"][0]
        assert await _count(city, negotiations) == 0


async def test_in_dev_mode_the_callers_own_loopback_endpoint_works(tmp_path: Path) -> None:
    async with running_pair(tmp_path) as (city, company):
        mine, theirs = await negotiate(city, company)
        assert mine["state"] == theirs["state"] == "FINALIZED"


# ------------------------------------------------------------------------ process ids


@pytest.mark.parametrize(
    "pid", ["x/../../../y", "..", "a%2F..", "a b", "urn:x\n", "", "x" * 201, "a?b", "a#b"]
)
async def test_a_process_id_that_is_not_an_opaque_token_is_refused(
    tmp_path: Path, pid: str
) -> None:
    async with running_pair(tmp_path) as (city, company):
        _, _, offer = await city.publish()
        msg = _request(pid, offer, company.dsp_url)
        status, body = await signed(company, city, "POST", "/negotiations/request", msg)
        assert status == 400, body
        assert body["@type"] == "ContractNegotiationError"
        assert await _count(city, negotiations) == 0
        assert await _count(city, outbox) == 0


async def test_a_traversing_pid_in_a_process_message_is_refused(tmp_path: Path) -> None:
    """A message to an existing negotiation that names the other side's pid as a path."""
    async with running_pair(tmp_path) as (city, company):
        _, _, offer = await city.publish()
        status, ack = await signed(
            company,
            city,
            "POST",
            "/negotiations/request",
            _request("urn:uuid:c3", offer, company.dsp_url),
        )
        assert status == 201, ack
        ppid = ack["providerPid"]
        before = await city.negotiation(ppid)
        bad = m.negotiation_termination(ppid, "x/../../../y", "x", "y")
        status, body = await signed(company, city, "POST", f"/negotiations/{ppid}/termination", bad)
        assert status == 400 and body["@type"] == "ContractNegotiationError", body
        assert (await city.negotiation(ppid))["state"] == before["state"]


# ------------------------------------------------------------------------ the pull proxy


async def _consumer_transfer(
    consumer: Node, provider: Node, agreement_id: str, endpoint: str
) -> str:
    """A STARTED pull transfer on the consumer whose data address (the provider's word) is
    ``endpoint``."""
    pid = f"urn:uuid:{uuid.uuid4()}"
    address = {
        "@type": "DataAddress",
        "endpointType": "https://w3id.org/idsa/v4.1/HTTP",
        "endpoint": endpoint,
        "endpointProperties": [{"name": "authorization", "value": "t"}],
    }
    assert consumer.connector.ctx is not None
    async with consumer.connector.ctx.engine.begin() as conn:
        await conn.execute(
            insert(transfers).values(
                pid=pid,
                role="consumer",
                provider_pid=f"urn:uuid:{uuid.uuid4()}",
                consumer_pid=pid,
                state="STARTED",
                agreement_id=agreement_id,
                format="NGSI-LD-PULL",
                counterparty_did=provider.did,
                counterparty_address=provider.dsp_url,
                data_address=json.dumps(address),
                created_at=now(),
                updated_at=now(),
            )
        )
    return pid


async def test_the_pull_proxy_does_not_follow_a_providers_redirect(tmp_path: Path) -> None:
    async with Attacker() as target, Attacker(redirect_to="") as provider_plane:
        provider_plane.redirect_to = f"{target.url}/internal/secret"
        async with running_pair(tmp_path) as (city, company):
            mine, _ = await negotiate(city, company)
            pid = await _consumer_transfer(
                company, city, mine["agreementId"], f"{provider_plane.url}/ngsi-ld/v1"
            )
            status, body = await company.admin("GET", f"/pull/{pid}/entities?type=X")
            assert status == 502, body
            assert "redirect" in body["detail"] and target.url in body["detail"]
            assert len(provider_plane.hits) == 1  # asked once, not followed
            assert target.hits == []
            status, received = await company.admin("GET", "/received")
            assert status == 200 and received == []


async def test_the_pull_proxy_does_not_call_the_consumer_itself(tmp_path: Path) -> None:
    async with running_pair(tmp_path) as (city, company):
        mine, _ = await negotiate(city, company)
        pid = await _consumer_transfer(company, city, mine["agreementId"], f"{company.url}/api/v1")
        status, body = await company.admin("GET", f"/pull/{pid}/datasets")
        assert status == 502 and "itself" in body["detail"], body
        status, received = await company.admin("GET", "/received")
        assert status == 200 and received == []


async def test_the_pull_proxy_refuses_loopback_in_production(
    tmp_path: Path, attacker: Attacker
) -> None:
    async with aiohttp.ClientSession() as http:
        company = await _production_node(tmp_path, http)
        try:
            pid = await _consumer_transfer(company, company, "urn:uuid:a", f"{attacker.url}/x")
            # the agreement must exist for the proxy to go on
            assert company.connector.ctx is not None
            async with company.connector.ctx.engine.begin() as conn:
                await conn.execute(
                    insert(agreements).values(
                        id="urn:uuid:a",
                        negotiation_pid="n",
                        provider_did="did:web:p",
                        consumer_did=company.did,
                        target="urn:uuid:ds",
                        agreement=json.dumps({"@id": "urn:uuid:a", "permission": []}),
                        created_at=now(),
                    )
                )
            status, body = await company.admin("GET", f"/pull/{pid}/entities")
            assert status == 502, body
            assert attacker.hits == []
        finally:
            await company.connector.stop()


# ------------------------------------------------------------------------ the guarded client


DEV = FetchPolicy(any_host=True, allow_loopback=True, allow_private=True, allow_http=True)


async def test_a_redirect_is_refused_by_default_and_names_its_location() -> None:
    async with Attacker() as target, Attacker(redirect_to="") as peer:
        peer.redirect_to = f"{target.url}/receipts"
        async with PeerHttp(DEV) as client:
            with pytest.raises(OutboundError) as refused:
                await client.request("POST", f"{peer.url}/ledger/receipts", json_body={"a": 1})
        assert refused.value.refused and f"{target.url}/receipts" in refused.value.detail
        assert target.hits == [] and len(peer.hits) == 1


async def test_a_followed_redirect_is_checked_at_every_hop() -> None:
    async with Attacker() as target, Attacker(redirect_to="") as peer:
        peer.redirect_to = f"{target.url}/next"
        only_peer = FetchPolicy(
            allowed_hosts=frozenset({f"127.0.0.1:{peer.port}"}),
            allow_loopback=True,
            allow_http=True,
        )
        async with PeerHttp(only_peer) as client:
            with pytest.raises(OutboundError) as refused:
                await client.request("GET", f"{peer.url}/doc", redirects=3)
        assert refused.value.refused
        assert target.hits == []
        async with PeerHttp(DEV) as client:  # a hop the policy allows is followed
            got = await client.request("GET", f"{peer.url}/doc", redirects=3)
        assert got.status == 200 and target.hits == [("GET", "/next")]


async def test_production_refuses_loopback_and_plain_http_before_connecting(
    attacker: Attacker,
) -> None:
    production = FetchPolicy(any_host=True)
    async with PeerHttp(production) as client:
        for url in (f"{attacker.url}/x", f"https://127.0.0.1:{attacker.port}/x"):
            with pytest.raises(OutboundError):
                await client.request("GET", url)
    assert attacker.hits == []


# ------------------------------------------------------------------------ NGSI-LD subscriptions


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[NgsiClient]:
    directory = tmp_path / "broker"
    init_participant(directory, "City", "city", port=0, dev_mode=True)
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield NgsiClient(connector, read_admin_key(directory), http)
        finally:
            await connector.stop()


def _subscription(uri: str) -> dict[str, Any]:
    return {
        "type": "Subscription",
        "entities": [{"type": "AirQualityObserved"}],
        "notification": {"endpoint": {"uri": uri, "accept": "application/json"}},
    }


async def test_a_subscription_may_not_notify_the_connector_itself(broker: NgsiClient) -> None:
    own = broker.connector.url
    port = broker.connector.settings.server.port
    for uri in (
        f"{own}/api/v1/datasets",
        f"http://localhost:{port}/api/v1/datasets",
        f"http://127.0.0.1:{port}/ngsi-ld/v1/entities",
    ):
        reply = await broker.post("/subscriptions", _subscription(uri))
        assert reply.status == 400, (uri, reply.body)
        assert reply.body["type"] == ERR + "BadRequestData"
    assert (await broker.get("/subscriptions")).body == []


async def test_in_dev_mode_a_loopback_subscriber_is_notified(
    broker: NgsiClient, attacker: Attacker
) -> None:
    reply = await broker.post("/subscriptions", _subscription(f"{attacker.url}/notify"))
    assert reply.status == 201, reply.body
    entity = {
        "id": "urn:ngsi-ld:AirQualityObserved:1",
        "type": "AirQualityObserved",
        "NO2": {"type": "Property", "value": 3},
    }
    assert (await broker.post("/entities", entity)).status == 201
    async with asyncio.timeout(10):
        await attacker.hit.wait()
    assert attacker.hits[0] == ("POST", "/notify")


async def test_loopback_endpoints_are_refused_outside_dev_mode(
    tmp_path: Path, attacker: Attacker
) -> None:
    directory = tmp_path / "prod-broker"
    init_participant(directory, "City", "city", port=0)
    _set(directory, "security", allowed_callback_hosts=["127.0.0.1", "localhost", "::1"])
    connector = Connector(load_settings(directory, env={}))
    await connector.start()
    try:
        async with aiohttp.ClientSession() as http:
            client = NgsiClient(connector, read_admin_key(directory), http)
            for uri in (f"{attacker.url}/notify", "http://localhost:9/x", "mqtt://127.0.0.1/t"):
                reply = await client.post("/subscriptions", _subscription(uri))
                assert reply.status == 400, (uri, reply.body)
                assert reply.body["type"] == ERR + "BadRequestData"
            assert (await client.get("/subscriptions")).body == []
    finally:
        await connector.stop()
    assert attacker.hits == []


# ------------------------------------------------------------------------ the setting


def test_dev_mode_is_off_unless_agora_init_dev_asks(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from connector.cli import main

    runner = CliRunner()
    plain, dev = tmp_path / "plain", tmp_path / "dev"
    for directory, flags in ((plain, []), (dev, ["--dev"])):
        result = runner.invoke(
            main, ["init", str(directory), "--name", "City", "--role", "city", *flags]
        )
        assert result.exit_code == 0, result.output
    production = load_settings(plain, env={})
    assert production.server.dev_mode is False
    assert production.security.allowed_callback_hosts == []
    assert load_settings(dev, env={}).server.dev_mode is True
    assert load_settings(plain, env={"AGORA_SERVER_DEV_MODE": "true"}).server.dev_mode is True
