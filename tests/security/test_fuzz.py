"""Property-based fuzzing of the network-facing entry points: whatever a peer sends, the
connector answers without a server error, every refusal is an error document of the route's
shape (RFC 9457 Problem Details, or the DSP error message on DSP routes), every body is valid
JSON, and the connector still answers afterwards.

Two sources of input: schemathesis generates requests from the management API's own OpenAPI
document (served at /api/v1/openapi.json), and our hypothesis strategies write raw JSON *text*
for the NGSI-LD, DSP and ledger routes, so they can send what no JSON encoder would produce
(NaN, 5,000-digit numbers, lone surrogate escapes, nesting a hundred thousand deep) along with
odd headers (a Content-Encoding the body does not have, wrong media types, tenants, Links).

Bounded to about a minute on two cores: fixed example counts, ``derandomize`` so that a run is
the same run every time (no flakes, no example database), one pair of connectors per module.
"""

from __future__ import annotations

import gzip
import json
import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from connector.dsp import messages as m
from connector.dsp.validation import validate
from tests.dsp.helpers import Node
from tests.security.live import LivePair

NGSI = "/ngsi-ld/v1"
PROBLEM = "application/problem+json"
JSON_TYPES = {"application/json", "application/ld+json", "application/geo+json", PROBLEM}
NGSI_ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
#: the two 5xx answers NGSI-LD itself prescribes (GS CIM 009 §5.5.2): a tenant this broker does
#: not host and a user @context it may not fetch. Any other 5xx is a failure.
NGSI_5XX = {501: NGSI_ERRORS + "NoMultiTenantSupport", 503: NGSI_ERRORS + "LdContextNotAvailable"}
#: a hung request fails the test instead of waiting for pytest's timeout
CLIENT_TIMEOUT_S = 20.0

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    # no shrinking: a failure reports the input as generated, and the run stays bounded
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


# -- the connectors -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LivePair]:
    pair = LivePair(tmp_path_factory.mktemp("fuzz"))
    try:
        yield pair
    finally:
        pair.close()


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def reached() -> Iterator[list[int]]:
    """The statuses one fuzz test got: it must have been both accepted and refused, so that
    the inputs reach the code behind authentication and validation, not only the first check."""
    seen: list[int] = []
    yield seen
    assert any(200 <= s < 300 for s in seen), f"no input was accepted: {sorted(set(seen))}"
    assert any(400 <= s < 500 for s in seen), f"no input was refused: {sorted(set(seen))}"


@pytest.fixture
def reached_behind_auth() -> Iterator[list[int]]:
    """As :func:`reached`, for a route where no generated input can be accepted (the ledger
    takes only statements signed under a real agreement): some inputs must get past
    authentication to the body's own checks, and some must be refused by authentication."""
    seen: list[int] = []
    yield seen
    behind = [s for s in seen if 400 <= s < 500 and s not in (401, 415)]
    assert behind, f"no input got past authentication: {sorted(set(seen))}"
    assert 401 in seen, f"no input was refused by authentication: {sorted(set(seen))}"


def admin(node: Node) -> dict[str, str]:
    return {"Authorization": f"Bearer {node.admin_key}"}


# -- what every answer must be ----------------------------------------------------------------


def _strict_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


Answer = requests.Response | schemathesis.Response


def _content_type(resp: Answer) -> str:
    if isinstance(resp, requests.Response):
        return resp.headers.get("Content-Type", "")
    return ",".join(resp.headers.get("content-type", []))  # lowercase names, lists of values


def _media_type(resp: Answer) -> str:
    return _content_type(resp).split(";")[0].strip().lower()


def check_answer(resp: Answer, sent: Any, *, dsp_area: str | None = None) -> None:
    """The acceptance of every fuzzed request (``sent`` names the input in the failure)."""
    status = resp.status_code
    body: Any = None
    if resp.content:
        try:
            body = json.loads(resp.content.decode("utf-8"), parse_constant=_strict_constant)
        except ValueError as exc:
            raise AssertionError(
                f"{status} answer is not JSON ({exc}): {resp.content[:300]!r}"
            ) from exc
        assert _media_type(resp) in JSON_TYPES, (status, _content_type(resp), sent)
    if status >= 500:
        allowed = NGSI_5XX.get(status)
        found = body.get("type") if isinstance(body, dict) else None
        assert allowed is not None and found == allowed, (status, body, sent)
    if status < 400:
        return
    assert isinstance(body, dict), (status, resp.content[:300], sent)
    if dsp_area is not None and _media_type(resp) == "application/json":
        validate(dsp_area, body)  # the DSP error message of the protocol area
        return
    assert _media_type(resp) == PROBLEM, (status, _content_type(resp), body, sent)
    assert body.get("status") == status, body
    assert isinstance(body.get("title"), str) and isinstance(body.get("type"), str), body


# -- JSON text, including what no encoder writes ----------------------------------------------

KEYS = st.sampled_from(
    [
        "id",
        "type",
        "@id",
        "@type",
        "@context",
        "value",
        "object",
        "coordinates",
        "entities",
        "q",
        "attrs",
        "notification",
        "endpoint",
        "uri",
        "records",
        "offer",
        "consumerPid",
        "providerPid",
        "callbackAddress",
        "observedAt",
        "datasetId",
    ]
) | st.text(max_size=10)

RAW_STRINGS = st.sampled_from(
    [
        '"\\ud800"',  # lone high surrogate
        '"\\udfff"',  # lone low surrogate
        '"x\\udc00\\ud800y"',  # the pair the wrong way round
        '"a\\u0000b"',
        '"urn:ngsi-ld:X:\\ud83d"',
        '"' + "\\" * 2 * 50 + '"',
    ]
)
NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.integers(20, 6000).map(lambda n: "9" * n),
    st.integers(20, 6000).map(lambda n: "-0." + "1" * n + "e-99999"),
    st.sampled_from(
        ["NaN", "Infinity", "-Infinity", "1e999999", "-1e400", "1E-400", "-0", "1" + "0" * 400]
    ),
)
SCALARS = st.one_of(
    NUMBERS,
    st.text(max_size=40).map(json.dumps),
    RAW_STRINGS,
    st.sampled_from(["true", "false", "null", '""', '"' + "x" * 70_000 + '"']),
)


def _containers(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    members = st.tuples(KEYS.map(json.dumps) | RAW_STRINGS, children)
    return st.one_of(
        st.lists(children, max_size=6).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(members, max_size=6).map(
            lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"
        ),
    )


JSON_TEXT = st.recursive(SCALARS, _containers, max_leaves=25)


@st.composite
def deep(draw: st.DrawFn) -> str:
    depth = draw(st.sampled_from([900, 1100, 5_000, 100_000]))
    if draw(st.booleans()):
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def shaped(base: dict[str, Any]) -> st.SearchStrategy[str]:
    """The route's own message with some members dropped or replaced by arbitrary JSON, so
    that the input gets past the first checks to the code behind them."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        if draw(st.integers(0, 3)) == 0:
            return json.dumps(base)  # intact: the route must also accept what it should
        parts = []
        for key, value in base.items():
            choice = draw(st.sampled_from(["keep", "keep", "keep", "drop", "fuzz"]))
            if choice == "drop":
                continue
            text = draw(JSON_TEXT) if choice == "fuzz" else json.dumps(value)
            parts.append(f"{json.dumps(key)}:{text}")
        if draw(st.booleans()):
            parts.append(f"{draw(KEYS.map(json.dumps))}:{draw(JSON_TEXT)}")
        return "{" + ",".join(parts) + "}"

    return build()


def body_for(*bases: dict[str, Any], array_of: bool = False) -> st.SearchStrategy[bytes]:
    """Bytes to send: the route's shape fuzzed, any JSON text, deep nesting or junk."""
    one = st.one_of(*(shaped(b) for b in bases))
    shape = (
        st.lists(one, min_size=1, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]")
        if array_of
        else one
    )
    texts = st.one_of(
        shape,
        shape,
        JSON_TEXT,
        deep(),
        JSON_TEXT.map(lambda t: t[: len(t) // 2]),  # truncated
    )
    return st.one_of(texts.map(str.encode), st.binary(max_size=64))


HEADER_TEXT = st.text(
    alphabet=string.ascii_letters + string.digits + " -_;=,./:<>\"'", max_size=40
).map(str.strip)  # a header value cannot start or end with white space
CONTEXT_LINK = (
    '<http://127.0.0.1:9/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; '
    'type="application/ld+json"'
)


@st.composite
def headers(draw: st.DrawFn, ctype: str = "application/json") -> dict[str, str]:
    if draw(st.integers(0, 2)) == 0:
        return {"Content-Type": ctype}
    out = {
        "Content-Type": draw(
            st.sampled_from(
                [ctype] * 6
                + [
                    "application/ld+json",
                    "application/merge-patch+json",
                    "application/json; charset=latin-1",
                    "text/plain",
                    "application/x-www-form-urlencoded",
                    "multipart/form-data; boundary=x",
                    "",
                ]
            )
            | HEADER_TEXT
        )
    }
    if draw(st.integers(0, 5)) == 0:
        out["Content-Encoding"] = draw(st.sampled_from(["gzip", "deflate", "br", "x-unknown"]))
    if draw(st.integers(0, 6)) == 0:
        out["Link"] = draw(st.sampled_from([CONTEXT_LINK]) | HEADER_TEXT)
    if draw(st.integers(0, 6)) == 0:
        out["NGSILD-Tenant"] = draw(HEADER_TEXT)
    if draw(st.integers(0, 6)) == 0:
        out["Accept"] = draw(st.sampled_from(["application/geo+json", "text/html", "*/*"]))
    return out


def maybe_gzip(body: bytes, hdrs: dict[str, str], really: bool) -> bytes:
    """With ``really`` and a gzip header the body is compressed, else the header lies."""
    return gzip.compress(body) if really and hdrs.get("Content-Encoding") == "gzip" else body


# -- schemathesis: the management API from its own OpenAPI document --------------------------


#: examples per operation, valid and invalid (8 for each of ~80 operations costs about what 12
#: for each of the 57 documented before did)
MANAGEMENT_FUZZ = settings(FUZZ, max_examples=8)


def test_management_api_from_its_openapi(
    live: LivePair, http: requests.Session, reached: list[int]
) -> None:
    """Every operation of the served OpenAPI document, with valid and with invalid input.

    The operations run one after the other (schemathesis' lazy pytest integration does not
    run on our pytest); the failures of all of them are reported together."""
    city = live.city
    schema = schemathesis.openapi.from_url(
        city.url + "/api/v1/openapi.json", headers=admin(city), timeout=CLIENT_TIMEOUT_S
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20, "the document lists the management routes"
    # an event stream never ends by design (tests/connector/test_http.py covers it); the
    # reference page is HTML (tests/management/test_openapi.py covers it)
    operations = [op for op in operations if not op.path.endswith("/events") and op.path != "/docs"]
    failures: list[str] = []
    for operation in operations:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @MANAGEMENT_FUZZ
        @given(case=cases)
        def one(case: schemathesis.Case) -> None:
            resp = case.call(
                base_url=city.url + "/api/v1",
                session=http,
                headers=admin(city),
                timeout=CLIENT_TIMEOUT_S,
            )
            reached.append(resp.status_code)
            sent = (case.method, case.formatted_path, case.query, case.body)
            documented = case.operation.definition.raw.get("responses", {})
            if resp.status_code in (502, 504) and str(resp.status_code) in documented:
                # a route that calls a peer, here one that does not exist (the documented
                # examples name example hosts): the gateway Problem its document promises
                assert _media_type(resp) == PROBLEM, (resp.status_code, sent)
                assert json.loads(resp.content)["status"] == resp.status_code, sent
                return
            check_answer(resp, sent)

        try:
            one()
        except Exception as exc:
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}")
    assert not failures, "\n".join(failures)


# -- hypothesis: NGSI-LD ---------------------------------------------------------------------

CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
ENTITY = {
    "id": "urn:ngsi-ld:FuzzRoom:1",
    "type": "FuzzRoom",
    "temperature": {"type": "Property", "value": 21.5, "observedAt": "2026-01-01T00:00:00Z"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [-1.1, 38.0]}},
    "inBuilding": {"type": "Relationship", "object": "urn:ngsi-ld:Building:1"},
}
ENTITY_LD = {**ENTITY, "id": "urn:ngsi-ld:FuzzRoom:2", "@context": CORE}
QUERY = {
    "type": "Query",
    "entities": [{"type": "FuzzRoom"}],
    "attrs": ["temperature"],
    "q": "temperature>20",
    "geoQ": {"geometry": "Point", "coordinates": [-1.1, 38.0], "georel": "near;maxDistance==2000"},
}
SUBSCRIPTION = {
    "type": "Subscription",
    "entities": [{"type": "FuzzRoom"}],
    "watchedAttributes": ["temperature"],
    "q": "temperature>30",
    "notification": {
        "attributes": ["temperature"],
        "format": "normalized",
        "endpoint": {"uri": "http://127.0.0.1:9/notify", "accept": "application/json"},
    },
    "throttling": 5,
}
AUTH = st.sampled_from(["admin", "admin", "admin", "admin", "none", "garbage"])


def _ngsi_headers(node: Node, who: str) -> dict[str, str]:
    if who == "admin":
        return admin(node)
    return {"Authorization": "Bearer x.y.z"} if who == "garbage" else {}


def _post(http: requests.Session, url: str, body: bytes, hdrs: dict[str, str]) -> requests.Response:
    """POST, and a failure naming the input if the connector hangs up or does not answer.

    One connection per request: after refusing a body it did not read, the server closes the
    connection, and a client reusing it could see that close instead of the answer."""
    try:
        return http.post(
            url, data=body, headers={**hdrs, "Connection": "close"}, timeout=CLIENT_TIMEOUT_S
        )
    except requests.RequestException as exc:
        shown = {k: v for k, v in hdrs.items() if k != "Authorization"}
        raise AssertionError(
            f"{type(exc).__name__} on POST {url} {shown} ({len(body)} bytes) {body[:300]!r}"
        ) from exc


def _ngsi_test(path: str, bodies: st.SearchStrategy[bytes]) -> Callable[..., None]:
    @FUZZ
    @given(body=bodies, hdrs=headers(), who=AUTH, really=st.booleans())
    def run(
        live: LivePair,
        http: requests.Session,
        reached: list[int],
        body: bytes,
        hdrs: dict[str, str],
        who: str,
        really: bool,
    ) -> None:
        data = maybe_gzip(body, hdrs, really)
        resp = _post(
            http, live.city.url + NGSI + path, data, {**hdrs, **_ngsi_headers(live.city, who)}
        )
        reached.append(resp.status_code)
        check_answer(resp, (path, hdrs, body[:500]))

    return run


test_ngsild_create_entity = _ngsi_test("/entities", body_for(ENTITY, ENTITY_LD))
test_ngsild_batch_upsert = _ngsi_test("/entityOperations/upsert", body_for(ENTITY, array_of=True))
test_ngsild_batch_query = _ngsi_test("/entityOperations/query", body_for(QUERY))
test_ngsild_create_subscription = _ngsi_test("/subscriptions", body_for(SUBSCRIPTION))


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["type", "q", "attrs", "offset", "limit", "georel", "geometry", "id"]),
        st.text(max_size=30) | st.integers(-(2**70), 2**70).map(str),
        max_size=4,
    )
)
def test_ngsild_query_parameters(
    live: LivePair, http: requests.Session, reached: list[int], params: dict[str, str]
) -> None:
    params.setdefault("type", "FuzzRoom")
    resp = http.get(
        live.city.url + NGSI + "/entities",
        params=params,
        headers=admin(live.city),
        timeout=CLIENT_TIMEOUT_S,
    )
    reached.append(resp.status_code)
    check_answer(resp, params)


# -- hypothesis: DSP and the ledger exchange, as a counter-party with a DCP token -----------

OFFER = {
    "@id": "urn:uuid:fuzz-offer",
    "@type": "Offer",
    "target": "urn:uuid:fuzz-ds",
    "permission": [{"action": "use"}],
}
DSP_ROUTES = [
    ("/negotiations/request", "ContractNegotiationError"),
    ("/negotiations/offers", "ContractNegotiationError"),
    ("/transfers/request", "TransferError"),
    ("/catalog/request", "CatalogError"),
]


@st.composite
def dsp_calls(draw: st.DrawFn, live: LivePair) -> tuple[str, str, bytes]:
    route, area = draw(st.sampled_from(DSP_ROUTES))
    callback = live.company.dsp_url
    bases = {
        "/negotiations/request": m.contract_request("urn:uuid:f", OFFER, callback_address=callback),
        "/negotiations/offers": m.contract_offer("urn:uuid:p", OFFER, callback_address=callback),
        "/transfers/request": m.transfer_request(
            "urn:uuid:t", "urn:uuid:a", "NGSI-LD-PULL", callback, None
        ),
        "/catalog/request": {
            "@context": [m.DSP_CONTEXT],
            "@type": "CatalogRequestMessage",
            "filter": [],
        },
    }
    return route, area, draw(body_for(bases[route]))


@FUZZ
@given(data=st.data(), hdrs=headers(), signed=st.sampled_from([True, True, True, False]))
def test_dsp_requests_from_a_counterparty(
    live: LivePair,
    http: requests.Session,
    reached: list[int],
    data: st.DataObject,
    hdrs: dict[str, str],
    signed: bool,
) -> None:
    route, area, body = data.draw(dsp_calls(live))
    if signed:
        hdrs = {**hdrs, "Authorization": f"Bearer {live.token(live.company, live.city)}"}
    resp = _post(http, live.city.dsp_url + route, body, hdrs)
    reached.append(resp.status_code)
    check_answer(resp, (route, hdrs, body[:500]), dsp_area=area)


@FUZZ
@given(
    body=body_for({"records": ['{"agreement_id":"urn:uuid:a"}']}, {"records": []}),
    hdrs=headers(),
    signed=st.sampled_from([True, True, True, False]),
)
def test_ledger_records_from_a_counterparty(
    live: LivePair,
    http: requests.Session,
    reached_behind_auth: list[int],
    body: bytes,
    hdrs: dict[str, str],
    signed: bool,
) -> None:
    if signed:
        hdrs = {**hdrs, "Authorization": f"Bearer {live.token(live.company, live.city)}"}
    resp = _post(http, live.city.url + "/ledger/v1/records", body, hdrs)
    reached_behind_auth.append(resp.status_code)
    check_answer(resp, (hdrs, body[:500]))


# -- explicit inputs too costly to leave to chance ---------------------------------------------


def test_gzip_bomb_is_refused_within_the_body_limit(live: LivePair, http: requests.Session) -> None:
    """64 MiB of JSON whitespace in 64 KiB of gzip: refused by the body limit, not inflated."""
    bomb = gzip.compress(b"[" + b" " * (64 << 20) + b"]", compresslevel=9)
    hdrs = {**admin(live.city), "Content-Type": "application/json", "Content-Encoding": "gzip"}
    resp = _post(http, live.city.url + NGSI + "/entities", bomb, hdrs)
    check_answer(resp, "gzip bomb")
    assert resp.status_code == 413


def test_still_serving_after_the_fuzz(live: LivePair, http: requests.Session) -> None:
    """Last in the module: both connectors answer, and a normal write and read still work."""
    for node in (live.city, live.company):
        resp = http.get(node.url + "/health", timeout=CLIENT_TIMEOUT_S)
        assert resp.status_code == 200, resp.text
    entity = {**ENTITY, "id": "urn:ngsi-ld:FuzzRoom:after"}
    hdrs = {**admin(live.city), "Content-Type": "application/json"}
    resp = _post(http, live.city.url + NGSI + "/entities", json.dumps(entity).encode(), hdrs)
    assert resp.status_code == 201, resp.text
    resp = http.get(
        live.city.url + NGSI + "/entities/urn:ngsi-ld:FuzzRoom:after",
        headers=admin(live.city),
        timeout=CLIENT_TIMEOUT_S,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["temperature"]["value"] == 21.5
