"""Nobody's evidence written by anyone else: what one connector may put into the other's log.

A city (provider) and a company (consumer) on loopback under a genuine agreement. The company
may hand the city its own signed statements about their agreement; it cannot make the city's log
say what the city did not do (a denial in 2020), sign with a key that is not its own, speak about
another party's agreement or about an access the city never served. The city, in turn, cannot
make the company's log hold a statement the company never made. The auditor's view tells the
owner's own records from the other party's statements.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import insert, select

from connector.dsp.agreements import build_agreement
from connector.dsp.runtime import now
from connector.dsp.tables import agreements, transfers
from ledger.audit import Finding, authors_of, compare_parties
from ledger.records import Record, sha256_hex, utc_now
from ledger.signing import KeySigner
from ledger.statements import sign_statement, verify_statement
from tests.audit.conftest import agora
from tests.dsp.helpers import Node
from tests.provenance.trade import Trade, agreement_entries, provenance, public_key, start_trade

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trade(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Trade]:
    async with aiohttp.ClientSession() as http:
        t = await start_trade(tmp_path_factory.mktemp("evidence"), http)
        try:
            yield t
        finally:
            await t.stop()


def signer(node: Node) -> KeySigner:
    found = provenance(node).ledger.signer
    assert isinstance(found, KeySigner)
    return found


async def post(sender: Node, receiver: Node, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    """``body`` to ``receiver``'s ledger endpoint, authenticated as ``sender`` (a fresh DCP
    token, as the exchange sends it)."""
    token = await sender.dsp.issuer.token_for(receiver.did)
    async with sender.http.post(
        receiver.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        doc = await resp.json(content_type=None)
        if resp.status >= 400:
            assert resp.content_type == "application/problem+json"
            assert doc["status"] == resp.status
        return resp.status, doc


async def submit(trade: Trade, *records: Record | str) -> tuple[int, Any]:
    texts = [r if isinstance(r, str) else r.canonical().decode() for r in records]
    return await post(trade.company, trade.city, "/ledger/v1/records", {"records": texts})


async def held(node: Node, agreement_id: str, record: Record) -> bool:
    found = await provenance(node).ledger.store.indices_of(agreement_id, [record.leaf_hash()])
    return bool(found)


async def refused(trade: Trade, record: Record, status: int, reason: str) -> None:
    """The city refuses ``record`` from the company with ``status``; its log is unchanged."""
    city = provenance(trade.city).ledger
    before = await city.sync()
    got, doc = await submit(trade, record)
    assert got == status, doc
    assert reason in doc["detail"], doc
    assert doc["results"][0]["status"] == status
    assert await city.sync() == before
    assert not await held(trade.city, record.agreement_id, record)


async def genuine(trade: Trade, record: Record) -> int:
    """Hand the city a statement the company really logged (in its own log first, as the
    exchange would); the city's index of it."""
    await provenance(trade.company).ledger.append_data(record.canonical(), record.agreement_id)
    status, doc = await submit(trade, record)
    assert status == 202, doc
    index = doc["results"][0]["index"]
    assert isinstance(index, int)
    return index


async def company_transfer(trade: Trade) -> Any:
    ctx = trade.company.connector.ctx
    assert ctx is not None
    stmt = select(transfers).where(transfers.c.agreement_id == trade.agreement_id)
    async with ctx.engine.connect() as conn:
        return (await conn.execute(stmt)).first()


def by_company(trade: Trade, **fields: Any) -> Record:
    """A record the company authors about the agreement (unsigned)."""
    base: dict[str, Any] = {
        "provider": trade.city.did,
        "consumer": trade.company.did,
        "agreement_id": trade.agreement_id,
        "author": trade.company.did,
    }
    return Record(**(base | fields))


async def city_access(trade: Trade) -> tuple[Record, bytes]:
    """One of the city's own access records of the agreement and its leaf hash."""
    for entry in await agreement_entries(trade.city, trade.agreement_id):
        record = Record.from_canonical(entry.data)
        if record.kind == "access" and record.author == trade.city.did:
            return record, entry.leaf_hash
    raise AssertionError("the trade logged no access")


async def test_a_forged_provider_denial_from_2020_is_refused(trade: Trade) -> None:
    denial: dict[str, Any] = {
        "kind": "access",
        "action": "read",
        "decision": "deny",
        "request_hash": sha256_hex(b"GET /ngsi-ld/v1/entities?type=AirQualityObserved"),
        "time": "2020-03-01T10:00:00.000Z",
        "details": {"operation": "query", "status": 403},
    }
    city, company = trade.city, trade.company
    # as the attack was sent: the old record format, naming no author
    legacy = Record(city.did, company.did, trade.agreement_id, **denial)
    await refused(trade, legacy, 400, "names no author")
    # posing as the city: the author is not the caller
    posing = by_company(trade, author=city.did, **denial)
    await refused(trade, posing, 403, "not by the caller")
    await refused(trade, sign_statement(posing, signer(company)), 403, "not by the caller")
    # in its own name and signed: still not a decision the city made, and before the agreement
    own = sign_statement(by_company(trade, **denial), signer(company))
    await refused(trade, own, 409, "before agreement")
    today = sign_statement(by_company(trade, **(denial | {"time": utc_now()})), signer(company))
    await refused(trade, today, 409, "own access record")


async def test_an_unsigned_statement_is_refused(trade: Trade) -> None:
    row = await company_transfer(trade)
    record = by_company(
        trade,
        kind="transfer",
        action="transfer:COMPLETED",
        decision="completed",
        details={"process": "transfer", "role": "consumer", "consumerPid": row.consumer_pid},
    )
    await refused(trade, record, 403, "is not signed")
    # the same statement, signed: it is the company's to make
    await genuine(trade, sign_statement(record, signer(trade.company)))


async def test_a_statement_signed_by_another_key_is_refused(trade: Trade) -> None:
    row = await company_transfer(trade)
    record = by_company(
        trade,
        kind="transfer",
        action="transfer:SUSPENDED",
        decision="suspended",
        details={"process": "transfer", "role": "consumer", "consumerPid": row.consumer_pid},
    )
    rogue = ed25519.Ed25519PrivateKey.generate()
    company_kid = signer(trade.company).kid
    # a key that is not in the company's DID document, under the company's own key id
    await refused(
        trade, sign_statement(record, KeySigner(rogue, company_kid)), 403, "does not verify"
    )
    # a key id the company's DID document does not list
    unknown = KeySigner(rogue, trade.company.did + "#rogue")
    await refused(trade, sign_statement(record, unknown), 403, "is not a key of")
    # the city's own key (some other party's): not a key of the author
    await refused(trade, sign_statement(record, signer(trade.city)), 403, "not a key of")
    # a valid signature over other bytes: the record was changed after signing
    signed = sign_statement(record, signer(trade.company))
    altered = json.loads(signed.canonical())
    altered["decision"] = "completed"
    await refused(trade, Record.from_json(altered), 403, "does not verify")


async def _other_agreement(trade: Trade) -> str:
    """An agreement the city made with someone else, stored as the DSP stores one."""
    ctx = trade.city.connector.ctx
    assert ctx is not None
    terms = build_agreement(
        {"@id": "urn:uuid:offer", "permission": [{"action": "use"}]},
        target=f"urn:uuid:{uuid.uuid4()}",
        assigner=trade.city.did,
        assignee="did:web:someone-else.example",
    )
    async with ctx.engine.begin() as conn:
        await conn.execute(
            insert(agreements).values(
                id=terms["@id"],
                negotiation_pid=f"urn:uuid:{uuid.uuid4()}",
                provider_did=trade.city.did,
                consumer_did="did:web:someone-else.example",
                target=terms["target"],
                agreement=json.dumps(terms),
                signature=None,
                created_at=now(),
            )
        )
    return str(terms["@id"])


async def test_a_statement_about_another_partys_agreement_is_refused(trade: Trade) -> None:
    other = await _other_agreement(trade)
    company = signer(trade.company)
    duty = {"kind": "duty", "action": "delete", "decision": "fulfilled"}
    mine = sign_statement(by_company(trade, agreement_id=other, **duty), company)
    await refused(trade, mine, 403, "parties are not the caller")
    theirs = by_company(trade, agreement_id=other, consumer="did:web:someone-else.example", **duty)
    await refused(trade, sign_statement(theirs, company), 403, "parties are not the caller")
    unknown = by_company(trade, agreement_id=f"urn:uuid:{uuid.uuid4()}", **duty)
    await refused(trade, sign_statement(unknown, company), 409, "is stored here")


async def test_a_statement_about_an_access_never_served_is_refused(trade: Trade) -> None:
    served, leaf = await city_access(trade)
    company = signer(trade.company)

    def about(refers: str, **changes: Any) -> Record:
        facts = {
            "kind": "access",
            "action": served.action,
            "decision": served.decision,
            "request_hash": served.request_hash,
            "response_hash": served.response_hash,
            "details": {"refersTo": refers},
        }
        return sign_statement(by_company(trade, **(facts | changes)), company)

    await refused(trade, about("ab" * 32), 409, "served no access")
    await refused(trade, about(leaf.hex(), response_hash=sha256_hex(b"[]")), 409, "served no")
    await refused(trade, about(leaf.hex(), decision="deny"), 409, "served no access")
    await refused(trade, about(leaf.hex(), request_hash="00" * 32), 409, "served no access")
    # the company's word on an access the city did serve, exactly as the city logged it
    await genuine(trade, about(leaf.hex()))


async def test_a_record_claiming_the_providers_decision_is_refused(trade: Trade) -> None:
    row = await company_transfer(trade)
    company = signer(trade.company)
    provider_view = by_company(
        trade,
        kind="transfer",
        action="transfer:TERMINATED",
        decision="terminated",
        details={"process": "transfer", "role": "provider", "consumerPid": row.consumer_pid},
    )
    await refused(trade, sign_statement(provider_view, company), 409, "the provider's view")
    agreement = by_company(
        trade, kind="agreement", action="agreement:signed", decision="agreed", request_hash="0"
    )
    await refused(trade, sign_statement(agreement, company), 409, "only the provider")
    elsewhere = by_company(
        trade,
        kind="transfer",
        action="transfer:STARTED",
        decision="started",
        details={"process": "transfer", "role": "consumer", "consumerPid": "urn:uuid:nope"},
    )
    await refused(trade, sign_statement(elsewhere, company), 409, "no transfer of agreement")
    consent = by_company(trade, kind="consent", action="consent:given", decision="given")
    await refused(trade, sign_statement(consent, company), 409, "cannot be checked here")
    future = by_company(trade, kind="duty", action="delete", decision="fulfilled")
    future = Record(**(json.loads(future.canonical()) | {"time": "2999-01-01T00:00:00.000Z"}))
    await refused(trade, sign_statement(future, company), 409, "in the future")


async def test_a_genuine_statement_is_stored_with_its_author(trade: Trade, tmp_path: Path) -> None:
    """The company's deletion of what it received, logged and delivered the usual way, sits in
    the city's log as the company's signed statement; the auditor tells it from the city's own
    records."""
    city, company = trade.city, trade.company
    row = await company_transfer(trade)
    deletion = Record(
        provider=city.did,
        consumer=company.did,
        agreement_id=trade.agreement_id,
        kind="duty",
        action="delete",
        decision="fulfilled",
        details={"transferId": row.consumer_pid, "entities": []},
    )
    done = await provenance(company).record(deletion)
    await trade.settle()
    theirs = await provenance(company).ledger.entry(done.index)
    stored = Record.from_canonical(theirs.data)
    assert stored.author == company.did and stored.signature is not None
    verify_statement(stored, public_key(company))
    mine = await agreement_entries(city, trade.agreement_id)
    index = next(e.index for e in mine if e.data == theirs.data)

    # the library's view of the city's log
    keys = {signer(company).kid: public_key(company)}
    entries = await provenance(city).ledger.entries(0, await provenance(city).ledger.sync())
    view = authors_of(entries, city.did, keys.get)
    assert view.ok, view.to_json()
    authorship = view.authorship[0]
    assert index in authorship.statements[company.did] and index in authorship.signed
    assert index not in authorship.own and authorship.own
    assert not authorship.unattributed

    # both parties' logs agree and each record is its author's
    receipts = await provenance(company).ledger.receipts(trade.agreement_id)
    report = compare_parties(
        trade.agreement_id,
        mine,
        await agreement_entries(company, trade.agreement_id),
        receipts,
        public_key(city),
        public_key(company),
        provider_did=city.did,
        consumer_did=company.did,
    )
    assert report.ok, report.to_json()
    provider_log, consumer_log = report.authorship
    assert index in provider_log.statements[company.did]
    assert done.index in consumer_log.own

    # `agora audit verify` of the city: the statement is the company's, its signature checked
    page = tmp_path / "report.html"
    ran = await agora(
        "verify", city.url, "--admin-key", city.admin_key, "--json", "--html", str(page)
    )
    assert ran.code == 0, ran.output
    (seen,) = ran.report["authorship"]
    assert seen["owner"] == city.did
    assert index in seen["statement_indices"][company.did]
    assert seen["signed_statements"] == seen["statements"][company.did]
    assert any(f"statements by {company.did}" in n for n in ran.report["notes"])
    assert f"statements by {company.did} (that party&#39;s word" in page.read_text()


async def test_the_provider_cannot_write_the_consumers_statement(trade: Trade) -> None:
    """The reverse: a record in the company's name that the company never made. The city can
    write it into its own log, but the company does not take it into its own, and an auditor
    names it in the city's log. (Last: it leaves the city's log with a forged record.)"""
    city, company = trade.city, trade.company
    forged = by_company(
        trade, kind="duty", action="delete", decision="violated", details={"late": True}
    )
    done = await provenance(city).ledger.append(forged)  # the city's operator, around the API
    receipt = await provenance(city).ledger.receipt(done.index, trade.agreement_id)
    body = {
        "tree_head": receipt.tree_head.to_json(),
        "items": [
            {
                "record": forged.canonical().decode(),
                "index": receipt.index,
                "inclusion_proof": [h.hex() for h in receipt.inclusion_proof],
            }
        ],
    }
    ledger = provenance(company).ledger
    before = await ledger.sync()
    status, doc = await post(city, company, "/ledger/v1/receipts", body)
    assert status == 200
    (result,) = doc["results"]
    assert result["status"] == 403 and "never logged this record" in result["problem"]
    assert await ledger.sync() == before
    assert not await held(company, trade.agreement_id, forged)

    report = compare_parties(
        trade.agreement_id,
        await agreement_entries(city, trade.agreement_id),
        await agreement_entries(company, trade.agreement_id),
        await ledger.receipts(trade.agreement_id),
        public_key(city),
        public_key(company),
        provider_did=city.did,
        consumer_did=company.did,
    )
    named = [d for d in report.discrepancies if d.kind == Finding.BAD_STATEMENT]
    assert [d.index for d in named] == [done.index]
    assert "is not signed" in named[0].detail
