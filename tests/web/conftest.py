"""A city and a company connector on loopback, and Debian's Chromium driven by Playwright.

The city sells on account to the company (its invoice account) and holds every request for an
operator's decision (``[dsp.decisions] agree = "manual"``), so the journey has a decision to take
in the city's console. Browser tests skip, saying why, only when /usr/bin/chromium is absent.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.dsp.helpers import Node, start_node

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
AXE = REPO / ".cache/axe/node_modules/axe-core/axe.min.js"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def space(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Node, Node]]:
    """(city, company), the city's broker holding two air-quality entities."""
    root = tmp_path_factory.mktemp("web")
    async with aiohttp.ClientSession() as http:
        company = await start_node(root, "company", "company", http=http)
        city = await start_node(
            root,
            "city",
            "city",
            http=http,
            extra={
                "dsp": {"authentication": "self-issued", "decisions": {"agree": "manual"}},
                "marketplace": {"invoice_accounts": [company.did]},
            },
        )
        for n in (1, 2):
            async with http.post(
                city.url + "/ngsi-ld/v1/entities",
                json={
                    "id": f"urn:ngsi-ld:AirQualityObserved:murcia-{n}",
                    "type": "AirQualityObserved",
                    "no2": {"type": "Property", "value": 20 + n},
                },
                headers={"Authorization": f"Bearer {city.admin_key}"},
            ) as resp:
                assert resp.status == 201, await resp.text()
        try:
            yield city, company
        finally:
            await company.connector.stop()
            await city.connector.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    if not HAVE_CHROMIUM:
        pytest.skip(f"{CHROMIUM} is absent: apt-get install -y chromium (.ci/run does)")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        found = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield found
        finally:
            await found.close()
