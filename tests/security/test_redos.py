"""Catastrophic-backtracking patterns from a client neither stall the connector nor give wrong
answers; patterns that need backtracking (backreferences, lookaround) are refused.

``^(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)X`` against the 48-character id below keeps a backtracking
engine (Python's ``re``) busy for about 13 seconds with the GIL held: every part of the
connector, ``/health`` included, waits. The bounds below (``asyncio.wait_for``) turn such a
regression into a failure instead of a hang; they are not performance assertions.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

from tests.ngsild_subscriptions.support import (
    ERR,
    Client,
    Receiver,
    settle,
)
from tests.support import Reply

T = TypeVar("T")

SLOW = "^(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)X"
SLOW_Q = f'name~="{SLOW}"'
LONG = "urn:ngsi-ld:Probe:" + "a" * 30  # no X: the pattern fails only after backtracking
HIT = "urn:ngsi-ld:Probe:X1"
BOUND_S = 5.0


def probe(entity_id: str, name: str) -> dict[str, Any]:
    return {"id": entity_id, "type": "Probe", "name": {"type": "Property", "value": name}}


async def seeded(client: Client) -> Client:
    for entity in (probe(LONG, "a" * 48), probe(HIT, "aaX")):
        assert (await client.post("/entities", entity)).status == 201
    return client


# An outside monitor: its own process, so that it keeps its own time while the connector (which
# shares this test's event loop and GIL) is stalled. It waits until the request under test is
# under way, then needs an answer from /health within BOUND_S.
MONITOR = """
import sys, time, urllib.request
time.sleep(0.3)
with urllib.request.urlopen(sys.argv[1] + "/health", timeout=float(sys.argv[2])) as resp:
    sys.exit(0 if resp.status == 200 else 1)
"""


async def while_answering_health(client: Client, work: Awaitable[T]) -> T:
    """Run ``work`` while an outside monitor asks ``/health``: both must finish in bound."""
    monitor = await asyncio.create_subprocess_exec(
        sys.executable, "-c", MONITOR, client.connector.url, str(BOUND_S)
    )
    try:
        result = await asyncio.wait_for(work, 4 * BOUND_S)
        assert await asyncio.wait_for(monitor.wait(), 4 * BOUND_S) == 0, "/health went unanswered"
    finally:
        if monitor.returncode is None:
            monitor.kill()
            await monitor.wait()
    return result


def ids(reply: Reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [e["id"] for e in reply.body]


def refused(reply: Reply, *words: str) -> None:
    assert reply.status == 400, reply.body
    assert reply.body["type"] == ERR + "BadRequestData", reply.body
    for word in words:
        assert word in reply.body["detail"], reply.body


# -- queries -----------------------------------------------------------------------------------


async def test_id_pattern_of_the_issue_answers_and_health_stays_up(broker: Client) -> None:
    await seeded(broker)
    reply = await while_answering_health(broker, broker.get("/entities", idPattern=SLOW))
    assert ids(reply) == [HIT]
    counted = await broker.get("/entities", type="Probe", idPattern=SLOW, count="true")
    assert ids(counted) == [HIT] and counted.headers["NGSILD-Results-Count"] == "1"


async def test_q_pattern_of_the_issue_answers_and_health_stays_up(broker: Client) -> None:
    await seeded(broker)
    reply = await while_answering_health(broker, broker.get("/entities", q=SLOW_Q))
    assert ids(reply) == [HIT]
    negated = await broker.get("/entities", type="Probe", q=f'name!~="{SLOW}"')
    assert ids(negated) == [LONG]


async def test_batch_query_with_the_pattern_answers(broker: Client) -> None:
    await seeded(broker)
    body = {"type": "Query", "entities": [{"type": "Probe", "idPattern": SLOW}]}
    reply = await while_answering_health(broker, broker.post("/entityOperations/query", body))
    assert ids(reply) == [HIT]


async def test_patterns_mean_the_same_on_both_engines(broker: Client) -> None:
    """ECMAScript syntax, not PostgreSQL's: ``\\b`` is a word boundary, ``\\u0058`` an X,
    ``(?i)`` may stand anywhere; an anchored prefix narrows, it does not decide."""
    await seeded(broker)
    assert ids(await broker.get("/entities", idPattern=r"\bX1$")) == [HIT]
    assert ids(await broker.get("/entities", idPattern=r"^urn:ngsi-ld:Probe:\u0058")) == [HIT]
    assert ids(await broker.get("/entities", idPattern=r"Probe:(?i)x1")) == [HIT]
    assert ids(await broker.get("/entities", idPattern=r"^urn:ngsi-ld:Probe:a+$")) == [LONG]
    assert ids(await broker.get("/entities", idPattern=r"^urn:ngsi-ld:probe:")) == []
    assert ids(await broker.get("/entities", idPattern=r"^urn:ngsi-ld:Probe:a?X")) == [HIT]
    assert ids(await broker.get("/entities", idPattern=r"^urn:ngsi-ld:Pro_e")) == []


# -- temporal ----------------------------------------------------------------------------------


async def test_temporal_query_with_the_patterns_answers(broker: Client) -> None:
    await seeded(broker)
    reply = await while_answering_health(broker, broker.get("/temporal/entities", idPattern=SLOW))
    assert ids(reply) == [HIT]
    by_q = await while_answering_health(
        broker, broker.get("/temporal/entities", type="Probe", q=SLOW_Q)
    )
    assert ids(by_q) == [HIT]


# -- subscriptions -----------------------------------------------------------------------------


async def test_subscription_idpattern_of_the_issue_notifies_only_matches(
    broker: Client, receiver: Receiver
) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Probe", "idPattern": SLOW}],
        "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
    }
    assert (await broker.post("/subscriptions", body)).status == 201
    await while_answering_health(broker, broker.post("/entities", probe(LONG, "a" * 48)))
    assert (await broker.post("/entities", probe(HIT, "aaX"))).status == 201
    notes = await receiver.wait_for(1)
    await settle()
    assert len(receiver.received) == 1
    assert [e["id"] for e in notes[0]["data"]] == [HIT]


async def test_subscription_q_pattern_notifies_only_matches(
    broker: Client, receiver: Receiver
) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": "Probe"}],
        "q": SLOW_Q,
        "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}},
    }
    assert (await broker.post("/subscriptions", body)).status == 201
    await while_answering_health(broker, broker.post("/entities", probe(LONG, "a" * 48)))
    assert (await broker.post("/entities", probe(HIT, "aaX"))).status == 201
    notes = await receiver.wait_for(1)
    await settle()
    assert [e["id"] for e in notes[0]["data"]] == [HIT] and len(receiver.received) == 1


# -- refusals ----------------------------------------------------------------------------------

BACKTRACKING = [
    (r"^(urn):\1", "backreferences"),
    (r"^(?<s>urn):\k<s>", "backreferences"),
    (r"^urn(?=:ngsi)", "lookahead"),
    (r"^urn(?!:x)", "negative lookahead"),
    (r"(?<=Probe:)X1", "lookbehind"),
    (r"(?<!Probe:)X1", "negative lookbehind"),
]


@pytest.mark.parametrize(("pattern", "feature"), BACKTRACKING)
async def test_backtracking_features_are_refused_everywhere(
    lite: Client, pattern: str, feature: str
) -> None:
    await seeded(lite)
    refused(await lite.get("/entities", idPattern=pattern), "idPattern", feature, "RE2")
    refused(await lite.get("/entities", q=f"name~={json.dumps(pattern)}"), feature)
    refused(await lite.get("/temporal/entities", idPattern=pattern), "idPattern", feature)
    query = {"type": "Query", "entities": [{"type": "Probe", "idPattern": pattern}]}
    refused(await lite.post("/entityOperations/query", query), feature)
    sub = {
        "type": "Subscription",
        "entities": [{"type": "Probe", "idPattern": pattern}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    refused(await lite.post("/subscriptions", sub), "entities[0].idPattern", feature)
    listed = await lite.get("/subscriptions")
    assert listed.status == 200 and listed.body == []


async def test_overlong_and_malformed_patterns_are_refused(lite: Client) -> None:
    await seeded(lite)
    long = "^urn:" + "a" * 1020  # 1025 characters
    refused(await lite.get("/entities", idPattern=long), "longer than 1024")
    refused(await lite.get("/entities", q=f'name~="{long}"'), "longer than 1024")
    refused(await lite.get("/entities", idPattern="^urn:(a"), "not a regular expression")
    refused(await lite.get("/entities", idPattern="(a{500}){500}"), "idPattern")
    # the store is untouched: both probes are still there, nothing else
    assert ids(await lite.get("/entities", type="Probe")) == sorted([LONG, HIT])
