"""The whole journey in a real browser, across two connectors on loopback.

The city's officer publishes a priced offering in the city's console; the company's buyer finds
it on the city's public catalog, follows "acquire" into the company's console and requests the
commercial plan; the officer approves the decision; the buyer sees the agreement and pulls data;
the city's transparency page then counts the use and links a proof that verifies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import verify_inclusion
from tests.dsp.helpers import Node
from tests.web.conftest import REPO

pytestmark = pytest.mark.asyncio(loop_scope="module")
SHOTS = os.environ.get("AGORA_SCREENSHOTS") == "1"


async def sign_in(page: Any, node: Node, key: str | None = None) -> None:
    await page.goto(node.url + "/console")
    await page.get_by_label("Your key").fill(key or node.admin_key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(node.url + "/console")


async def shot(page: Any, name: str) -> None:
    if SHOTS:
        out = REPO / "docs/screenshots"
        out.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(out / name), full_page=True)


async def test_publish_find_acquire_approve_pull(browser: Any, space: tuple[Node, Node]) -> None:
    city, company = space
    officer = await (await browser.new_context()).new_page()
    officer.set_default_timeout(8000)
    buyer = await (await browser.new_context()).new_page()
    buyer.set_default_timeout(8000)

    # the city's officer: a dataset, then a priced offering from the city template, published
    await sign_in(officer, city)
    await officer.goto(city.url + "/console/datasets")
    await officer.get_by_label("Title").fill("Air quality in Murcia")
    await officer.get_by_label("Entity types").fill("AirQualityObserved")
    await officer.get_by_role("button", name="Create dataset").click()
    await officer.get_by_text("Dataset created: Air quality in Murcia").wait_for()
    await officer.goto(city.url + "/console/offerings")
    await officer.get_by_label("Dataset", exact=True).select_option(label="Air quality in Murcia")
    await officer.get_by_label("Identifier").fill("murcia-air")
    await officer.get_by_label("Name", exact=True).fill("Murcia air quality")
    await officer.get_by_label("Price of the commercial plan").fill("49.00")
    await officer.get_by_label("Publish at once").check()
    await officer.get_by_role("button", name="Create offering").click()
    await officer.wait_for_url(city.url + "/console/offerings")
    row = officer.get_by_role("row", name="Murcia air quality")
    assert "published" in await row.inner_text()
    assert "49.00 EUR / month" in await row.inner_text()

    # the company's buyer finds it on the city's public catalog and follows "acquire"
    await buyer.goto(city.url + "/")
    await buyer.get_by_role("link", name="Murcia air quality").click()
    await buyer.get_by_role("cell", name="49.00 EUR / month").wait_for()
    assert "You may use the data" in await buyer.locator("table").inner_text()
    await shot(buyer, "offering.png")
    await buyer.get_by_label("commercial").check()
    await buyer.get_by_label("Your connector's address").fill(company.url)
    await buyer.get_by_role("button", name="Acquire in my console").click()
    # not signed in at the company's console yet: sign in, and land back on the acquire page
    await buyer.get_by_label("Your key").fill(company.admin_key)
    await buyer.get_by_role("button", name="Sign in").click()
    await buyer.get_by_role("heading", name="Acquire an offering: Murcia air quality").wait_for()
    assert await buyer.get_by_label("commercial").is_checked()
    await buyer.get_by_role("button", name="Request this plan").click()
    await buyer.wait_for_url("**/console/negotiations/**")
    negotiation_url = buyer.url

    # the city's officer sees the decision waiting and approves it
    await officer.goto(city.url + "/console/decisions")
    await officer.get_by_role("cell", name=company.did).wait_for()
    await shot(officer, "console-decisions.png")
    await officer.get_by_role("button", name="Approve").click()
    await officer.get_by_text("Nothing waits for a decision.").wait_for()

    # the buyer's page follows the negotiation live (server-sent events) to its agreement
    await buyer.goto(negotiation_url)
    await buyer.locator("#agreement-link").wait_for(timeout=20_000)
    assert await buyer.locator("#state").inner_text() == "FINALIZED"
    await buyer.locator("#agreement-link").click()
    assert "49.00" in await buyer.locator("main").inner_text()
    await buyer.get_by_role("button", name="Pull the data").click()
    await buyer.wait_for_url("**/console/transfers/**")
    for _ in range(100):
        if await buyer.locator("#transfer-state").inner_text() == "STARTED":
            break
        await buyer.reload()
    await buyer.get_by_label("Entity type").fill("AirQualityObserved")
    await buyer.get_by_role("button", name="Fetch entities").click()
    await buyer.get_by_role("heading", name="2 entities received").wait_for()
    assert "urn:ngsi-ld:AirQualityObserved:murcia-1" in await buyer.locator("table").inner_text()

    # the city's public transparency page counts the use and links a proof that verifies
    public = await (await browser.new_context()).new_page()
    await public.goto(city.url + "/transparency")
    line = public.get_by_role("row", name=company.did)
    cells = await line.get_by_role("cell").all_inner_texts()
    assert cells[3] == "1" and int(cells[4]) >= 1, cells
    await shot(public, "transparency.png")
    link = line.get_by_role("link")
    href = await link.get_attribute("href")
    async with city.http.get(city.url + str(href)) as resp:
        proof = await resp.json()
    assert proof["record"]["consumer"] == company.did
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["index"],
        proof["tree_head"]["size"],
        [bytes.fromhex(h) for h in proof["inclusion_proof"]],
        bytes.fromhex(proof["tree_head"]["root"]),
    )
    for page in (officer, buyer, public):
        await page.context.close()


def test_screenshots_are_committed() -> None:
    """The README shows these; the journey (AGORA_SCREENSHOTS=1) writes them."""
    names = sorted(p.name for p in Path(REPO / "docs/screenshots").glob("*.png"))
    assert names == ["console-decisions.png", "offering.png", "transparency.png"]
