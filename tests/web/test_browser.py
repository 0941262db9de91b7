"""The whole journey in a real browser, across two connectors on loopback.

The city's officer publishes a priced offering in the city's console; the company's buyer finds
it on the city's public catalog, follows "acquire" into the company's console and requests the
commercial plan; the officer approves the decision; the buyer sees the agreement and pulls data;
the city's transparency page then counts the use and links a proof that verifies.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.merkle import verify_inclusion
from tests.dsp.helpers import Node
from tests.web.conftest import AXE, REPO

AXE_PRESENT = AXE.exists()

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
    assert await buyer.locator("#state").inner_text() in ("REQUESTED", "")
    assert await buyer.locator("#agreement-link").count() == 0

    # the city's officer sees the decision waiting and approves it
    await officer.goto(city.url + "/console/decisions")
    await officer.get_by_role("cell", name=company.did).wait_for()
    await shot(officer, "console-decisions.png")
    await officer.get_by_role("button", name="Approve").click()
    await officer.get_by_text("Nothing waits for a decision.").wait_for()

    # the buyer's open page follows the negotiation live (server-sent events, no reload by the
    # buyer) until it ends, then shows its agreement
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

    # an audit of the city's log from its console: the report as tables, filtered
    await officer.goto(city.url + "/console/audit")
    await officer.get_by_label("Address of the connector").fill(city.url)
    await officer.get_by_label("Its admin key").fill(city.admin_key)
    await officer.get_by_label("Show").select_option("record")
    await officer.get_by_label("Label contains").fill("agreement")
    await officer.get_by_role("button", name="Run the audit").click()
    assert await officer.locator("#verdict").inner_text() == "No discrepancy"
    assert int(await officer.locator("#records-checked").inner_text()) >= 4
    labels = await officer.locator("#timeline tbody tr td:nth-child(4)").all_inner_texts()
    assert labels and all("agreement" in label for label in labels), labels
    for page in (officer, buyer, public):
        await page.context.close()


def _screenshots() -> list[str]:
    return sorted(p.name for p in Path(REPO / "docs/screenshots").glob("*.png"))


async def test_screenshots_are_committed() -> None:
    """The README shows these; the journey (AGORA_SCREENSHOTS=1) writes them."""
    names = _screenshots()
    assert names == ["console-decisions.png", "offering.png", "transparency.png"]


# ---------------------------------------------------------------------- refusals


async def count_datasets(node: Node) -> int:
    status, body = await node.admin("GET", "/datasets")
    assert status == 200, body
    return len(body)


async def test_form_errors_are_shown_next_to_their_fields(
    browser: Any, space: tuple[Node, Node]
) -> None:
    city, _ = space
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(8000)
    await sign_in(page, city)
    before = await count_datasets(city)
    await page.goto(city.url + "/console/datasets")
    await page.get_by_label("Entity types").fill("not a type!")
    await page.get_by_role("button", name="Create dataset").click()
    title = page.get_by_label("Title")
    assert await title.get_attribute("aria-invalid") == "true"
    assert await page.locator("#title-error").inner_text() == "This field is required."
    assert "Entity types are names or IRIs" in await page.locator("#entityTypes-error").inner_text()
    assert await page.get_by_label("Entity types").input_value() == "not a type!"  # kept
    assert await count_datasets(city) == before

    await page.goto(city.url + "/console/offerings")
    await page.get_by_label("Identifier").fill("-starts-with-a-dash")
    await page.get_by_label("Price of the commercial plan").fill("forty")
    await page.get_by_role("button", name="Create offering").click()
    assert "Letters, digits" in await page.locator("#id-error").inner_text()
    assert "A positive amount" in await page.locator("#price-error").inner_text()
    assert await page.locator("#dataset-error").inner_text() == "Choose one of your datasets."
    assert await page.locator("#name-error").inner_text() == "This field is required."
    status, offerings = await city.admin("GET", "/offerings")
    assert status == 200 and all(o["id"] != "-starts-with-a-dash" for o in offerings)
    await page.context.close()


async def test_forged_and_stale_csrf_tokens_are_refused(
    browser: Any, space: tuple[Node, Node]
) -> None:
    city, _ = space
    page = await (await browser.new_context()).new_page()
    page.set_default_timeout(8000)
    await sign_in(page, city)
    before = await count_datasets(city)
    await page.goto(city.url + "/console/datasets")
    await page.get_by_label("Title").fill("Forged")
    await page.get_by_label("Entity types").fill("Parking")
    await page.locator("form[action='/console/datasets'] input[name=csrf]").evaluate(
        "input => { input.value = 'forged-token' }"
    )
    await page.get_by_role("button", name="Create dataset").click()
    assert "security token is missing, stale or forged" in await page.locator("main").inner_text()
    assert await count_datasets(city) == before

    # a token of an earlier session stops working when that session is left
    await page.goto(city.url + "/console/datasets")
    stale = await page.locator("input[name=csrf]").first.get_attribute("value")
    await page.get_by_role("button", name="Sign out").click()
    await sign_in(page, city)
    form = {"csrf": str(stale), "title": "Stale", "entityTypes": "Parking"}
    resp = await page.request.post(city.url + "/console/datasets", form=form)
    assert resp.status == 403 and "stale or forged" in await resp.text()
    resp = await page.request.post(city.url + "/console/datasets", form={**form, "csrf": ""})
    assert resp.status == 403
    assert await count_datasets(city) == before
    await page.context.close()


async def test_an_expired_session_is_sent_to_sign_in(
    browser: Any, space: tuple[Node, Node]
) -> None:
    from connector.web import session as sessions

    city, _ = space
    secret = sessions.secret_for(city.connector.settings)
    expired, cookie = sessions.mint(secret, "admin", "admin", "admin", 60, now=time.time() - 3600)
    context = await browser.new_context()
    host = city.url.split("//", 1)[1].split(":")[0]
    await context.add_cookies(
        [{"name": sessions.COOKIE, "value": cookie, "domain": host, "path": "/"}]
    )
    page = await context.new_page()
    page.set_default_timeout(8000)
    await page.goto(city.url + "/console/datasets")
    assert "/console/signin" in page.url and "why=expired" in page.url
    assert "Your session has expired" in await page.locator("main").inner_text()
    before = await count_datasets(city)
    token = sessions.csrf_token(secret, expired.sid)
    resp = await page.request.post(
        city.url + "/console/datasets",
        form={"csrf": token, "title": "Late", "entityTypes": "Parking"},
        max_redirects=0,
    )
    assert resp.status == 303 and "/console/signin" in resp.headers["location"]
    assert await count_datasets(city) == before
    await context.close()


async def test_a_viewer_reads_but_cannot_edit(browser: Any, space: tuple[Node, Node]) -> None:
    city, _ = space
    admin = await (await browser.new_context()).new_page()
    admin.set_default_timeout(8000)
    await sign_in(admin, city)
    await admin.goto(city.url + "/console/staff")
    await admin.get_by_label("Name").fill("Ana (reads only)")
    await admin.get_by_label("Role").select_option("viewer")
    await admin.get_by_role("button", name="Create key").click()
    key = await admin.locator("#new-key").inner_text()

    viewer = await (await browser.new_context()).new_page()
    viewer.set_default_timeout(8000)
    await sign_in(viewer, city, key)
    await viewer.goto(city.url + "/console/datasets")
    assert await viewer.get_by_role("button", name="Create dataset").count() == 0
    assert await viewer.get_by_role("cell", name="Air quality in Murcia").count() == 1
    token = await viewer.locator("input[name=csrf]").first.get_attribute("value")
    before = await count_datasets(city)
    resp = await viewer.request.post(
        city.url + "/console/datasets",
        form={"csrf": str(token), "title": "By a viewer", "entityTypes": "Parking"},
    )
    assert resp.status == 403 and "needs the editor role" in await resp.text()
    resp = await viewer.request.post(
        city.url + "/console/offerings/murcia-air/retire", form={"csrf": str(token)}
    )
    assert resp.status == 403
    resp = await viewer.request.get(city.url + "/console/staff")
    assert resp.status == 403
    assert await count_datasets(city) == before
    _status, offering = await city.admin("GET", "/offerings/murcia-air")
    assert offering["lifecycle"] == "published"

    # deleting the key ends the sessions it opened
    await admin.goto(city.url + "/console/staff")
    await admin.get_by_role("button", name="Delete").click()
    await viewer.goto(city.url + "/console/datasets")
    assert "/console/signin" in viewer.url
    for page in (admin, viewer):
        await page.context.close()


# ---------------------------------------------------------------------- accessibility


async def test_every_page_passes_axe(browser: Any, space: tuple[Node, Node]) -> None:
    """axe-core's WCAG 2.1 A and AA rules on each page, in both languages for the public ones."""
    if not AXE_PRESENT:
        pytest.skip(f"axe-core is not installed at {AXE} (.ci/run installs it with npm)")
    city, company = space
    source = AXE.read_text()
    context = await browser.new_context(bypass_csp=True)
    await context.add_init_script(source)
    page = await context.new_page()
    page.set_default_timeout(8000)
    await sign_in(page, company)
    _, agreements = await company.admin("GET", "/agreements")
    _, transfers = await company.admin("GET", "/transfers")
    _, negotiations = await company.admin("GET", "/negotiations")
    company_pages = [
        "/console",
        "/console/datasets",
        "/console/offerings",
        "/console/decisions",
        "/console/processes",
        "/console/acquire",
        "/console/staff",
        "/console/audit",
        "/console/membership",
        f"/console/negotiations/{negotiations[0]['id']}",
        f"/console/agreements/{agreements[0]['id']}",
        f"/console/transfers/{transfers[0]['id']}",
    ]
    public_pages = ["/", "/offerings/murcia-air", "/transparency", "/console/signin"]
    urls = [city.url + p for p in public_pages] + [city.url + "/?lang=es"]
    urls += [company.url + p for p in company_pages]
    failures = {}
    for url in urls:
        await page.goto(url)
        result = await page.evaluate(
            "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'],"
            " resultTypes: ['violations']})"
        )
        found = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]]
        if found:
            failures[url] = found
    assert not failures, failures
    await context.close()
