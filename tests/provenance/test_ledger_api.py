"""The auditors' ledger API of a running connector, checked with the ledger library's verifiers."""

from __future__ import annotations

import pytest

from connector.provenance.component import Provenance
from ledger import merkle
from ledger.records import Record
from ledger.treehead import TreeHead
from tests.support import Running


def _provenance(running: Running) -> Provenance:
    assert running.connector.ctx is not None
    found: Provenance = running.connector.ctx.components["provenance"]
    return found


async def _append(running: Running, n: int, agreement: str = "urn:uuid:agr-1") -> None:
    prov = _provenance(running)
    for i in range(n):
        await prov.record(
            Record(
                provider=running.connector.settings.did,
                consumer="did:web:company.example",
                agreement_id=agreement,
                action="read",
                decision="permit",
                request_hash=f"{i:064x}",
                details={"path": f"/ngsi-ld/v1/entities/urn:ngsi-ld:X:{i}"},
            )
        )


async def test_tree_head_is_signed_by_the_participant_key(running: Running) -> None:
    await _append(running, 5)
    resp = await running.call("GET", "/api/v1/ledger/tree-head")
    assert resp.status == 200
    head = TreeHead.from_json(await resp.json())
    assert head.size == 5
    from connector.keys import load_participant

    me = load_participant(running.connector.settings)
    assert head.kid == me.kid and head.kid.startswith(running.connector.settings.did + "#")
    assert head.verify(me.keyring.active.public_key)


async def test_inclusion_and_consistency_proofs_verify(running: Running) -> None:
    await _append(running, 7)
    head = TreeHead.from_json(await (await running.call("GET", "/api/v1/ledger/tree-head")).json())
    rec = await (await running.call("GET", "/api/v1/ledger/records/3")).json()
    proof = await (
        await running.call("GET", f"/api/v1/ledger/proofs/inclusion?index=3&size={head.size}")
    ).json()
    assert merkle.verify_inclusion(
        bytes.fromhex(rec["leaf_hash"]),
        3,
        head.size,
        [bytes.fromhex(h) for h in proof["hashes"]],
        head.root,
    )
    await _append(running, 4)
    head2 = TreeHead.from_json(await (await running.call("GET", "/api/v1/ledger/tree-head")).json())
    cons = await (
        await running.call(
            "GET", f"/api/v1/ledger/proofs/consistency?first={head.size}&second={head2.size}"
        )
    ).json()
    assert merkle.verify_consistency(
        head.size,
        head2.size,
        [bytes.fromhex(h) for h in cons["hashes"]],
        head.root,
        head2.root,
    )


async def test_records_by_agreement(running: Running) -> None:
    await _append(running, 2, agreement="urn:uuid:a")
    await _append(running, 3, agreement="urn:uuid:b")
    body = await (await running.call("GET", "/api/v1/ledger/records?agreement=urn:uuid:b")).json()
    assert [r["index"] for r in body["records"]] == [2, 3, 4]
    assert all(r["record"]["agreement_id"] == "urn:uuid:b" for r in body["records"])


async def test_anchor_lands_on_the_embedded_chain(running: Running) -> None:
    await _append(running, 3)
    prov = _provenance(running)
    assert prov.scheduler is not None
    row = await prov.scheduler.anchor_now()
    assert row is not None and row.size == 3
    body = await (await running.call("GET", "/api/v1/ledger/anchors")).json()
    assert [a["size"] for a in body["anchors"]] == [3]
    on_chain = await prov.scheduler.anchorer.anchored_async()
    assert on_chain[0].root == row.root


async def test_records_by_range_like_ct_get_entries(running: Running) -> None:
    await _append(running, 5)
    body = await (await running.call("GET", "/api/v1/ledger/records?start=1&end=4")).json()
    assert body["start"] == 1
    assert [r["index"] for r in body["records"]] == [1, 2, 3]
    past_end = await (await running.call("GET", "/api/v1/ledger/records?start=3&end=99")).json()
    assert [r["index"] for r in past_end["records"]] == [3, 4]


async def test_receipts_of_an_agreement_start_empty(running: Running) -> None:
    body = await (await running.call("GET", "/api/v1/ledger/receipts?agreement=urn:x")).json()
    assert body == {"agreement": "urn:x", "receipts": []}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v1/ledger/records/99", 404),
        ("/api/v1/ledger/records/minus-one", 400),
        ("/api/v1/ledger/records", 400),
        ("/api/v1/ledger/records?start=2&end=2", 400),
        ("/api/v1/ledger/records?start=1", 400),
        ("/api/v1/ledger/records?start=a&end=3", 400),
        ("/api/v1/ledger/receipts", 400),
        ("/api/v1/ledger/proofs/inclusion?index=0", 400),
        ("/api/v1/ledger/proofs/inclusion?index=x&size=1", 400),
        ("/api/v1/ledger/proofs/inclusion?index=-1&size=1", 400),
        ("/api/v1/ledger/proofs/inclusion?index=5&size=2", 400),
        ("/api/v1/ledger/proofs/consistency?first=3&second=99", 400),
        ("/api/v1/ledger/proofs/consistency?first=2&second=1", 400),
    ],
)
async def test_bad_ledger_queries_are_problems(running: Running, path: str, status: int) -> None:
    await _append(running, 2)
    resp = await running.call("GET", path)
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"


async def test_ledger_api_needs_a_principal(running: Running) -> None:
    resp = await running.call("GET", "/api/v1/ledger/tree-head", admin=False)
    assert resp.status == 401
