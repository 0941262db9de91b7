"""``POST /api/v1/policies/conflicts``: a city checks candidate policies before publishing."""

from __future__ import annotations

from typing import Any

from tests.support import Running

PROBLEM = "application/problem+json"
ODRL_CTX = "http://www.w3.org/ns/odrl.jsonld"
X = "urn:agora:dataset:air"


def pset(uid: str, **rules: Any) -> dict[str, Any]:
    return {"@context": ODRL_CTX, "@type": "Set", "uid": uid, **rules}


RULE = {"action": "read", "target": X}


async def test_a_conflict_is_found_and_explained(running: Running) -> None:
    body = {"policies": [pset("urn:p", permission=[RULE]), pset("urn:q", prohibition=[RULE])]}
    resp = await running.call("POST", "/api/v1/policies/conflicts", json=body)
    assert resp.status == 200
    report = await resp.json()
    assert report["status"] == "Conflict" and report["strategy"] == "invalid"
    assert report["witnesses"][0]["prohibitions"] == ["urn:q prohibition[0]"]
    assert report["explanation"].startswith("Conflict")
    fine = {"policies": [pset("urn:p", permission=[RULE])], "strategy": "perm"}
    ok = await (await running.call("POST", "/api/v1/policies/conflicts", json=fine)).json()
    assert ok["status"] == "No conflict" and ok["strategy"] == "perm"


async def test_stored_policies_are_checked_against_an_inline_one(running: Running) -> None:
    stored = {"id": "urn:policy:open", "permission": [{"action": "use"}]}
    created = await running.call("POST", "/api/v1/policies", json=stored)
    assert created.status == 201, await created.text()
    body = {
        "policyIds": ["urn:policy:open"],
        "target": X,
        "policies": [pset("urn:q", prohibition=[RULE])],
    }
    report = await (await running.call("POST", "/api/v1/policies/conflicts", json=body)).json()
    assert report["status"] == "Ambiguous"  # every use but reading stays permitted


async def _refused(running: Running, body: Any, status: int, words: str) -> None:
    before = await (await running.call("GET", "/api/v1/policies")).json()
    resp = await running.call("POST", "/api/v1/policies/conflicts", json=body)
    assert resp.status == status
    assert resp.content_type == PROBLEM
    assert words in (await resp.json(content_type=None))["detail"]
    assert await (await running.call("GET", "/api/v1/policies")).json() == before


async def test_bad_requests_are_refused_and_nothing_is_stored(running: Running) -> None:
    await _refused(running, [], 400, "JSON object")
    await _refused(running, {}, 400, "at least one policy")
    await _refused(running, {"policies": [RULE], "colour": 1}, 400, "/colour")
    await _refused(running, {"policies": "x"}, 400, "must be lists")
    await _refused(running, {"policies": [42]}, 400, "/policies/0")
    broken = pset("urn:p", permission=[{"action": "read", "constraint": [{"leftOperand": 1}]}])
    await _refused(running, {"policies": [broken]}, 400, "not a valid ODRL policy")
    await _refused(
        running, {"policies": [pset("urn:p", permission=[RULE])], "strategy": "x"}, 400, "/strategy"
    )
    # not a string at all (found by fuzzing the documented route: it was a 500)
    for strategy in ({"perm": 1}, ["perm"]):
        body = {"policies": [pset("urn:p", permission=[RULE])], "strategy": strategy}
        await _refused(running, body, 400, "/strategy")
    await _refused(running, {"policyIds": ["urn:policy:none"]}, 404, "no such policy")
    many = {"policies": [pset(f"urn:p{i}", permission=[RULE]) for i in range(21)]}
    await _refused(running, many, 400, "at most 20")


async def test_the_admin_key_is_required(running: Running) -> None:
    body = {"policies": [pset("urn:p", permission=[RULE])]}
    resp = await running.call("POST", "/api/v1/policies/conflicts", admin=False, json=body)
    assert resp.status == 401
