"""Inputs found by fuzzing that were answered 500 (or stored, then served as invalid JSON):
each is now a 400/401 Problem Details and leaves nothing behind."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from connector.management.api import PROFILE_KEY
from connector.storage.schema import settings_kv
from tests.support import NgsiClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

NGSI = "https://uri.etsi.org/ngsi-ld/errors/"
JSON = {"Content-Type": "application/json"}


async def _post_raw(
    city: NgsiClient,
    path: str,
    raw: bytes,
    *,
    admin: bool = True,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, Any]:
    h = {**JSON, **(headers or {})}
    if admin:
        h["Authorization"] = f"Bearer {city.admin_key}"
    async with city.http.post(city.url + path, data=raw, headers=h) as resp:
        text = await resp.text()
        return resp.status, resp.content_type, json.loads(text) if text else None


async def _absent(city: NgsiClient, eid: str) -> None:
    reply = await city.get(f"/entities/{eid}")
    assert reply.status == 404, reply.body


def _entity(eid: str, value: bytes) -> bytes:
    return (
        b'{"id":"' + eid.encode() + b'","type":"T","p":{"type":"Property","value":' + value + b"}}"
    )


# --- without credentials: refused before the body is read ------------------------------------


@pytest.mark.parametrize(
    ("raw", "headers"),
    [
        (b"1" * 4400, {}),
        (b'{"id":"urn:a:1","type":"T","p":{"type":[],"value":1}}', {}),
        (b'{"id":"urn:a:1","type":"T"}', {"Content-Encoding": "gzip"}),
        (b"[" * 100_000, {}),
    ],
    ids=["digits", "type-list", "gzip", "deep"],
)
async def test_anonymous_bodies_are_not_read(
    city: NgsiClient, raw: bytes, headers: dict[str, str]
) -> None:
    status, ctype, problem = await _post_raw(city, "/entities", raw, admin=False, headers=headers)
    assert status == 401 and ctype == "application/problem+json", problem
    await _absent(city, "urn:a:1")


# --- with the admin key: every one a 400 with the NGSI-LD type, nothing stored -----------------


NUMBERS = {
    "4400-digits": b"1" * 4400,
    "1-and-400-zeros": b"1" + b"0" * 400,
    "5000-digits-negative": b"-" + b"9" * 5000,
    "1e999": b"1e999",
    "-1e999": b"-1e999",
    "NaN": b"NaN",
    "Infinity": b"Infinity",
    "-Infinity": b"-Infinity",
}


@pytest.mark.parametrize("value", NUMBERS.values(), ids=NUMBERS.keys())
async def test_numbers_json_cannot_carry_are_refused(city: NgsiClient, value: bytes) -> None:
    status, _, problem = await _post_raw(city, "/entities", _entity("urn:a:num", value))
    assert status == 400, problem
    assert problem["type"] in (NGSI + "BadRequestData", NGSI + "InvalidRequest")
    await _absent(city, "urn:a:num")
    # nor through an update of an existing entity
    assert (await city.post("/entities", {"id": "urn:a:held", "type": "T"})).status == 201
    status, _, _ = await _post_raw(city, "/entities/urn:a:held/attrs", b'{"p":' + value + b"}")
    assert status == 400
    held = await city.get("/entities/urn:a:held")
    assert held.status == 200 and "p" not in held.body
    assert (await city.delete("/entities/urn:a:held")).status == 204


async def test_a_number_within_a_double_is_stored_and_served_as_json(city: NgsiClient) -> None:
    """The boundary: a 64-bit unsigned integer and a large double are valid JSON both ways."""
    raw = b'{"id":"urn:a:big","type":"T","p":18446744073709551615,"q":1.5e308}'
    status, _, problem = await _post_raw(city, "/entities", raw)
    assert status == 201, problem
    async with city.http.get(
        city.url + "/entities?type=T&q=p>1", headers={"Authorization": f"Bearer {city.admin_key}"}
    ) as resp:
        assert resp.status == 200
        found = json.loads(await resp.read())  # strict: no NaN/Infinity in what is served
    assert [e["p"]["value"] for e in found if e["id"] == "urn:a:big"] == [18446744073709551615]
    assert (await city.delete("/entities/urn:a:big")).status == 204


@pytest.mark.parametrize(
    "raw",
    [
        b'{"id":"urn:a:\\ud800","type":"T"}',
        b'{"id":"urn:a:sur","type":"T","p":"\\udc00"}',
        b'{"id":"urn:a:sur","type":"T","p":"\\ud800\\u0041"}',
    ],
    ids=["id", "value-low", "value-unpaired-high"],
)
async def test_lone_surrogates_are_refused(city: NgsiClient, raw: bytes) -> None:
    status, _, problem = await _post_raw(city, "/entities", raw)
    assert status == 400 and problem["type"] == NGSI + "BadRequestData", problem
    await _absent(city, "urn:a:sur")
    reply = await city.get("/entities", type="T")
    assert reply.status == 200 and all(
        "urn:a:" not in e["id"] or e["id"].isascii() for e in reply.body
    )


@pytest.mark.parametrize(
    "entity",
    [
        {"id": "urn:a:tl", "type": "T", "p": {"type": [], "value": 1}},
        {"id": "urn:a:tl", "type": "T", "p": {"type": {"x": 1}, "value": 1}},
        {"id": "urn:a:tl", "type": "T", "location": {"type": [], "coordinates": [1, 2]}},
        {
            "id": "urn:a:tl",
            "type": "T",
            "location": {"type": "GeoProperty", "value": {"type": [], "coordinates": [1, 2]}},
        },
        {"id": "urn:a:tl", "type": "T", "p": [{"type": [], "value": 1}]},
    ],
    ids=["attribute", "attribute-object", "concise-geometry", "geometry", "instance-list"],
)
async def test_a_list_where_a_type_name_belongs(city: NgsiClient, entity: dict[str, Any]) -> None:
    reply = await city.post("/entities", entity)
    assert reply.status == 400 and reply.body["type"] == NGSI + "BadRequestData", reply.body
    await _absent(city, "urn:a:tl")
    reply = await city.post("/entityOperations/upsert", [entity])
    assert reply.status in (400, 207), reply.body
    await _absent(city, "urn:a:tl")


@pytest.mark.parametrize(
    "query",
    [
        {"type": "Query", "entities": [{"type": 42}]},
        {"type": "Query", "entities": [{"type": ["T"]}]},
        {"type": "Query", "entities": [{"id": 7}]},
        {"type": "Query", "entities": [{"idPattern": ["x"]}]},
        {"type": "Query", "geoQ": {"georel": ["near"], "geometry": "Point"}},
        {"type": 42},
        {"type": ["Query"]},
    ],
)
async def test_batch_query_members_of_the_wrong_type(
    city: NgsiClient, query: dict[str, Any]
) -> None:
    reply = await city.post("/entityOperations/query", query)
    assert reply.status == 400 and reply.body["type"] == NGSI + "BadRequestData", reply.body


@pytest.mark.parametrize(
    "value", ["100000000000000000000", "9223372036854775808", "1_0", "+5", " 5", "٣", "²", "-1"]
)
@pytest.mark.parametrize("path", ["/entities?type=T&", "/subscriptions?"])
@pytest.mark.parametrize("name", ["offset", "limit"])
async def test_integer_parameters_are_bounded_ascii_digits(
    city: NgsiClient, path: str, name: str, value: str
) -> None:
    async with city.http.get(
        f"{city.url}{path}{name}={value}", headers={"Authorization": f"Bearer {city.admin_key}"}
    ) as resp:
        problem = await resp.json(content_type=None)
        assert resp.status == 400, problem
        assert problem["type"] == NGSI + "BadRequestData"


async def test_gzip_announced_on_a_plain_body(city: NgsiClient) -> None:
    status, ctype, problem = await _post_raw(
        city, "/entities", b'{"id":"urn:a:gz","type":"T"}', headers={"Content-Encoding": "gzip"}
    )
    assert status == 400 and ctype == "application/problem+json"
    assert problem["type"] == NGSI + "InvalidRequest"
    assert "content-encoding" in problem["detail"].lower()
    await _absent(city, "urn:a:gz")


# --- the participant profile ------------------------------------------------------------------


async def _participant(city: NgsiClient) -> tuple[int, Any]:
    async with city.http.get(
        city.connector.url + "/api/v1/participant",
        headers={"Authorization": f"Bearer {city.admin_key}"},
    ) as resp:
        return resp.status, await resp.json()


async def _put_profile(city: NgsiClient, profile: dict[str, Any]) -> tuple[int, Any]:
    async with city.http.put(
        city.connector.url + "/api/v1/participant/profile",
        json=profile,
        headers={"Authorization": f"Bearer {city.admin_key}"},
    ) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize(
    "homepage",
    [
        "https://example.org/" + "a" * 2063,  # 2,083 characters: HttpUrl's own bound
        "http://a" + "b" * 2075,  # grows by a '/' when normalised
        "https://example.org/" + "é" * 600,  # grows sixfold when percent-encoded
        "javascript:alert(1)",
        "https://",
    ],
    ids=["2083", "grows-by-one", "grows-encoded", "scheme", "no-host"],
)
async def test_a_homepage_that_would_not_read_back_is_refused(
    city: NgsiClient, homepage: str
) -> None:
    status, body = await _put_profile(city, {"description": "kept"})
    assert status == 200, body
    status, problem = await _put_profile(city, {"description": "lost", "homepage": homepage})
    assert status == 400 and problem["detail"].startswith("/homepage"), problem
    status, participant = await _participant(city)
    assert status == 200
    assert participant["profile"]["description"] == "kept"
    assert participant["profile"]["homepage"] is None


async def test_a_stored_profile_that_no_longer_validates_still_reads(city: NgsiClient) -> None:
    status, _ = await _put_profile(city, {"description": "ours", "homepage": "https://a.example/"})
    assert status == 200
    ctx = city.connector.ctx
    assert ctx is not None
    odd = json.dumps({"description": "ours", "homepage": "http://a" + "b" * 2100, "country": "x"})
    async with ctx.engine.begin() as conn:
        await conn.execute(
            update(settings_kv).where(settings_kv.c.key == PROFILE_KEY).values(value=odd)
        )
    status, participant = await _participant(city)
    assert status == 200, participant
    assert participant["profile"]["description"] == "ours"
    assert participant["profile"]["homepage"] is None and participant["profile"]["country"] is None
