"""The pages over plain HTTP (no browser): languages, refusals, redirects, the catalogs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp
import pytest
import pytest_asyncio

from connector.web.catalogs import extracted
from connector.web.render import load_catalogs
from tests.dsp.helpers import Node, start_node
from tests.trust.conftest import TEST_IDENTITY

pytestmark = pytest.mark.asyncio(loop_scope="module")
HTML = {"Accept": "text/html"}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def city(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    root: Path = tmp_path_factory.mktemp("pages")
    async with aiohttp.ClientSession() as http:
        node = await start_node(
            root,
            "city",
            "city",
            http=http,
            extra={
                "catalog": {"enabled": True, "crawl_on_start": False},
                "identity": TEST_IDENTITY,
            },
        )
        try:
            yield node
        finally:
            await node.connector.stop()


async def get(node: Node, path: str, **kw: object) -> tuple[int, str, aiohttp.ClientResponse]:
    async with node.http.get(node.url + path, allow_redirects=False, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, await resp.text(), resp


async def test_pages_speak_english_and_spanish(city: Node) -> None:
    status, text, resp = await get(city, "/", headers=HTML)
    assert status == 200 and resp.content_type == "text/html"
    assert '<html lang="en">' in text and "Catalog" in text
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    status, text, _ = await get(city, "/", headers={**HTML, "Accept-Language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in text and "Catálogo" in text
    status, text, resp = await get(city, "/transparency?lang=es", headers=HTML)
    assert "Transparencia" in text and "Nadie ha usado" in text
    assert resp.cookies["agora_lang"].value == "es"


async def test_every_message_of_the_templates_has_a_spanish_translation() -> None:
    from babel.messages.pofile import read_po

    from connector.web.catalogs import WEB

    with (WEB / "locale/es/LC_MESSAGES/messages.po").open("rb") as fh:
        spanish = read_po(fh)
    untranslated = [m.id for m in extracted() if m.id and not (spanish.get(m.id) or m).string]
    assert untranslated == [], untranslated
    assert load_catalogs()["es"].gettext("Sign in") == "Iniciar sesión"  # and it is loaded


async def test_unknown_offering_is_a_404_page(city: Node) -> None:
    status, text, resp = await get(city, "/offerings/no-such-thing", headers=HTML)
    assert status == 404 and resp.content_type == "text/html" and "no such offering" in text


async def test_acquire_sends_the_buyer_only_to_a_web_address(city: Node) -> None:
    bad = "/acquire?offering=x&buyer=javascript:alert(1)"
    status, _, resp = await get(city, bad)
    assert status == 303 and resp.headers["Location"] == "/offerings/x?error=buyer#acquire"
    status, _, resp = await get(
        city, "/acquire?offering=x&dataset=d&offer=o&buyer=https://co.example/"
    )
    assert status == 303
    target = resp.headers["Location"]
    assert target.startswith("https://co.example/console/acquire?provider=")
    assert "dataset=d" in target and "offer=o" in target


async def test_the_console_needs_a_session(city: Node) -> None:
    for path in ("/console", "/console/datasets", "/console/staff"):
        status, _, resp = await get(city, path, headers=HTML)
        assert status == 303 and resp.headers["Location"].startswith("/console/signin?next=")
    async with city.http.post(
        city.url + "/console/datasets", data={"title": "x"}, allow_redirects=False
    ) as resp:
        assert resp.status == 303
    status, body = await city.admin("GET", "/datasets")
    assert body == []


async def test_sign_in_refuses_a_wrong_key_and_a_missing_token(city: Node) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        async with browser.get(city.url + "/console/signin") as resp:
            page = await resp.text()
        token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        form = {"csrf": token, "key": "not-the-key", "next": "/console"}
        async with browser.post(city.url + "/console/signin", data=form) as resp:
            text = await resp.text()
            assert resp.status == 400 and "This key is not known here." in text
            assert 'aria-invalid="true"' in text
        form = {"csrf": "forged", "key": city.admin_key}
        async with browser.post(
            city.url + "/console/signin", data=form, allow_redirects=False
        ) as resp:
            assert resp.status == 400 and "The form expired" in await resp.text()
            assert "agora_session" not in resp.cookies
        form = {"csrf": token, "key": city.admin_key, "next": "//evil.example/console"}
        async with browser.post(
            city.url + "/console/signin", data=form, allow_redirects=False
        ) as resp:
            assert resp.status == 303 and resp.headers["Location"] == "/console"
            cookie = resp.cookies["agora_session"]
            assert cookie["httponly"] and cookie["samesite"] == "Strict"


async def test_only_agreement_records_have_public_proofs(city: Node) -> None:
    for index in ("0", "abc", "99999999"):
        status, _, _ = await get(city, f"/transparency/proofs/{index}")
        assert status == 404


async def console_session(node: Node) -> tuple[aiohttp.ClientSession, str]:
    """A signed-in admin session and its form token."""
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with browser.get(node.url + "/console/signin") as resp:
        page = await resp.text()
    token = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    async with browser.post(
        node.url + "/console/signin", data={"csrf": token, "key": node.admin_key}
    ) as resp:
        page = await resp.text()
    return browser, page.split('name="csrf" value="', 1)[1].split('"', 1)[0]


async def test_membership_page_and_a_bad_authority(city: Node) -> None:
    browser, csrf = await console_session(city)
    async with browser:
        async with browser.get(city.url + "/console/membership") as resp:
            text = await resp.text()
            assert resp.status == 200 and "has not applied for membership" in text
        for missing in ("/console/negotiations/nope", "/console/agreements/nope"):
            async with browser.get(city.url + missing) as resp:
                assert resp.status == 404 and resp.content_type == "text/html"
                assert "nothing at this address" in await resp.text()
        form = {"csrf": csrf, "authority": "ftp://authority.example", "country": "spain"}
        async with browser.post(city.url + "/console/membership", data=form) as resp:
            text = await resp.text()
            assert resp.status == 400
            assert 'id="authority-error"' in text and 'id="country-error"' in text
        form = {"csrf": csrf, "authority": "http://127.0.0.1:9", "country": "ES"}
        async with browser.post(city.url + "/console/membership", data=form) as resp:
            text = await resp.text()
            assert resp.status == 502 and 'id="authority-error"' in text
    status, body = await city.admin("GET", "/membership")
    assert status == 404 and "has not applied" in body["detail"]  # nothing was recorded


async def test_the_federated_search_shows_a_bad_parameter_not_a_failure(city: Node) -> None:
    status, text, _ = await get(city, "/?q=air", headers=HTML)
    assert status == 200 and "Federated catalog" in text and "0 datasets" in text
    status, text, _ = await get(city, "/?price_max=abc", headers=HTML)
    assert status == 200 and 'role="alert"' in text and "price_max" in text


async def test_the_federated_search_lists_a_member_with_facets_and_acquire(city: Node) -> None:
    """The city's own DSP catalog, indexed as a member's (what the crawler does), on its ``/``."""
    from marketplace.catalog.entries import parse_catalog
    from marketplace.catalog.nodes import NodeStatus
    from tests.dsp.helpers import signed
    from tests.market.helpers import published

    dataset_id, _ = await published(city, "federated-air")
    status, doc = await signed(
        city,
        city,
        "POST",
        "/catalog/request",
        {
            "@context": ["https://w3id.org/dspace/2025/1/context.jsonld"],
            "@type": "CatalogRequestMessage",
        },
    )
    assert status == 200, doc
    index = city.connector.ctx.components["catalog"].index  # type: ignore[union-attr]
    await index.replace_node(city.did, parse_catalog(doc, city.did).entries)
    await index.save_node(NodeStatus(city.did, city.dsp_url))

    status, text, _ = await get(city, "/?q=air", headers=HTML)
    assert status == 200 and "1 datasets" in text
    assert "/console/acquire?provider=" in text
    assert "dataset=" + quote(dataset_id, safe="") in text
    assert "<h3>Price model</h3>" in text and "<h3>Publisher</h3>" in text  # the facets
    assert "price_model=free" in text  # a facet value links its filter
    status, text, _ = await get(city, "/?price_model=one_off", headers=HTML)
    assert "0 datasets" in text
    status, text, _ = await get(city, "/?price_model=free", headers=HTML)
    assert "1 datasets" in text


async def test_the_city_joins_through_the_authoritys_console(
    city: Node, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The city applies in its console; the authority's operator approves in theirs; the city's
    membership page then shows the credential it holds."""
    authority = await start_node(
        tmp_path_factory.mktemp("authority"),
        "authority",
        "authority",
        http=city.http,
        extra={"identity": TEST_IDENTITY},
    )
    try:
        browser, csrf = await console_session(city)
        async with browser:
            form = {"csrf": csrf, "authority": authority.url, "country": "ES"}
            async with browser.post(city.url + "/console/membership", data=form) as resp:
                text = await resp.text()
                assert resp.status == 200 and "pending" in text, text[-2000:]
        operator, token = await console_session(authority)
        async with operator:
            async with operator.get(authority.url + "/console/authority") as resp:
                text = await resp.text()
                assert city.did in text
            request_id = text.split('name="subject" value="', 1)[1].split('"', 1)[0]
            async with operator.post(
                authority.url + "/console/authority/approve",
                data={"csrf": token, "subject": request_id},
            ) as resp:
                text = await resp.text()
                assert resp.status == 200 and "Nothing waits for a decision." in text, text[-1500:]
                assert "active" in text
        browser, csrf = await console_session(city)
        async with browser:
            async with browser.get(city.url + "/console/membership") as resp:
                text = await resp.text()
        assert "approved" in text and "MembershipCredential" in text
    finally:
        await authority.connector.stop()
