"""A provider killed with SIGKILL in the middle of a negotiation: after restart, its outbox
resumes and both sides end in the same final state."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from connector.participant import init_participant, read_admin_key
from tests.dsp.helpers import Node, start_node, wait_for
from tests.dsp.test_outbox import free_port


def serve(directory: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "connector", "serve", str(directory)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "AGORA_LOGGING_LEVEL": "WARNING"},
        )


async def healthy(http: aiohttp.ClientSession, url: str) -> None:
    for _ in range(300):
        try:
            async with http.get(url + "/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not come up")


async def test_sigkill_mid_negotiation_then_restart(tmp_path: Path) -> None:
    port = free_port()
    directory = tmp_path / "city"
    init_participant(
        directory,
        "City of Murcia",
        "city",
        port=port,
        extra_settings={"dsp": {"authentication": "self-issued"}},
        dev_mode=True,
    )
    log = tmp_path / "city.log"
    proc = serve(directory, log)
    async with aiohttp.ClientSession() as http:
        company = await start_node(tmp_path, "company", "company", http=http)
        city = Node(company.connector, read_admin_key(directory), http)  # admin calls only
        city_url = f"http://127.0.0.1:{port}"
        try:
            await healthy(http, city_url)
            city.connector = _Remote(city_url)  # type: ignore[assignment]
            status, ds = await city.admin(
                "POST", "/datasets", {"title": "AQ", "entityTypes": ["AirQualityObserved"]}
            )
            assert status == 201, ds
            _, pol = await city.admin("POST", "/policies", {"permission": [{"action": "use"}]})
            _, offer = await city.admin(
                "POST", "/offers", {"datasetId": ds["id"], "policyId": pol["id"]}
            )
            # hold the provider's ContractAgreementMessage at the consumer until we have killed
            # the provider: the agreement is then committed on its side but not acknowledged
            service = company.dsp.negotiations
            original = service.on_process_message
            arrived, release = asyncio.Event(), asyncio.Event()

            async def gate(request: web.Request, message_type: str, kind: str) -> web.Response:
                if kind == "agreement" and not release.is_set():
                    arrived.set()
                    await release.wait()
                    return web.json_response({}, status=503)
                return await original(request, message_type, kind)

            service.on_process_message = gate  # type: ignore[method-assign]
            status, neg = await company.admin(
                "POST",
                "/negotiations",
                {
                    "counterPartyAddress": city_url + "/dsp",
                    "offer": offer["offer"],
                    "target": ds["id"],
                },
            )
            assert status == 201
            await asyncio.wait_for(arrived.wait(), 10)
            _, before = await city.admin("GET", "/negotiations")
            assert before[0]["state"] == "AGREED"
            assert (await company.negotiation(neg["id"]))["state"] == "REQUESTED"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            release.set()
            service.on_process_message = original  # type: ignore[method-assign]
            await asyncio.sleep(0.1)
            proc = serve(directory, log)
            await healthy(http, city_url)
            mine = await wait_for(company.negotiation, neg["id"], {"FINALIZED", "TERMINATED"}, 30)
            theirs = await wait_for(
                lambda pid: _get(city, pid), mine["providerPid"], {"FINALIZED", "TERMINATED"}, 30
            )
            assert mine["state"] == theirs["state"] == "FINALIZED"
            assert mine["agreementId"] == theirs["agreementId"]
        finally:
            proc.kill()
            proc.wait(10)
            await company.connector.stop()


class _Remote:
    """Stands in for a Connector object: only ``url`` is used by Node's admin calls."""

    def __init__(self, url: str) -> None:
        self.url = url


async def _get(node: Node, pid: str) -> dict[str, Any]:
    status, body = await node.admin("GET", f"/negotiations/{pid}")
    assert status == 200, body
    return dict(body)
