"""Canonical records (RFC 8785), signed tree heads and countersigned receipts."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import RecordError, SignatureError
from ledger.merkle import MerkleTree
from ledger.receipts import (
    BAD_HEAD,
    BAD_PROOF,
    Receipt,
    accept_countersignatures,
    countersign,
    countersign_all,
    make_receipt,
    receipt_problems,
)
from ledger.records import Record, canonicalize, sha256_hex
from ledger.signing import CallableSigner, KeySigner, VerifiedSignatures
from ledger.treehead import TreeHead, sign_tree_head

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(), json_values, max_size=6))
def test_canonicalize_equals_rfc8785(doc: dict[str, Any]) -> None:
    try:
        expected = rfc8785.dumps(doc)
    except rfc8785.CanonicalizationError:
        with pytest.raises(RecordError):
            canonicalize(doc)
        return
    assert canonicalize(doc) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(), min_size=9, max_size=9),
    st.dictionaries(st.text(), json_values, max_size=3),
)
def test_record_canonical_equals_rfc8785(texts: list[str], details: dict[str, Any]) -> None:
    provider, consumer, agreement, action, decision, request, response, time, kind = texts
    r = Record(
        provider, consumer, agreement, action, decision, request, response, time, kind, details
    )
    try:
        expected = rfc8785.dumps(r.to_json())
    except rfc8785.CanonicalizationError:
        with pytest.raises(RecordError):
            r.canonical()
        return
    assert r.canonical() == expected


def record(i: int = 0, **changes: Any) -> Record:
    base = Record(
        provider="did:web:city.example",
        consumer="did:web:company.example",
        agreement_id=f"urn:uuid:agreement-{i % 3}",
        action="use",
        decision="permit",
        request_hash=sha256_hex(f"GET /ngsi-ld/v1/entities?{i}".encode()),
        response_hash=sha256_hex(b"[]"),
        time="2026-11-21T12:00:00.000Z",
        kind="access",
        details={"entities": i, "purpose": "mobility-research", "ratio": "1/2"},
    )
    return dataclasses.replace(base, **changes)


def test_record_round_trip_and_canonical_form() -> None:
    r = record(7, details={"é": "ü", "a": [1, True, None]})
    data = r.canonical()
    assert data == rfc8785.dumps(r.to_json())
    assert Record.from_canonical(data) == r
    assert Record.from_json(json.loads(data)) == r
    assert r.leaf_hash() == record(7, details={"a": [1, True, None], "é": "ü"}).leaf_hash()


@pytest.mark.parametrize(
    "bad",
    [
        b"not json",
        b"[]",
        b'{"kind":"access"}',
        json.dumps(record().to_json(), indent=1).encode(),
    ],
)
def test_non_canonical_or_malformed_records_rejected(bad: bytes) -> None:
    with pytest.raises(RecordError):
        Record.from_canonical(bad)


def test_record_rejects_floats_it_cannot_canonicalize() -> None:
    with pytest.raises(RecordError):
        record(details={"x": float("nan")}).canonical()


def test_tree_head_signature(provider_signer: KeySigner, consumer_signer: KeySigner) -> None:
    for signer in (provider_signer, consumer_signer):
        head = sign_tree_head(signer, 3, b"\x01" * 32)
        assert head.verify(signer.public_key())
        assert TreeHead.from_json(head.to_json()) == head
        assert not dataclasses.replace(head, size=4).verify(signer.public_key())
        assert not dataclasses.replace(head, root=b"\x02" * 32).verify(signer.public_key())
        assert not dataclasses.replace(head, timestamp=head.timestamp + 1).verify(
            signer.public_key()
        )
    other = sign_tree_head(consumer_signer, 3, b"\x01" * 32)
    assert not other.verify(provider_signer.public_key())
    with pytest.raises(SignatureError):
        TreeHead.from_json({"size": 1, "root": "zz"})


def test_callable_signer(provider_signer: KeySigner) -> None:
    signer = CallableSigner(provider_signer.private_key.sign, "kms-key")  # type: ignore[arg-type]
    head = sign_tree_head(signer, 1, b"\x00" * 32)
    assert head.kid == "kms-key" and head.verify(provider_signer.public_key())


def test_receipt_countersigned_and_checked(
    provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    records = [record(i) for i in range(5)]
    tree = MerkleTree([r.leaf_hash() for r in records])
    head = sign_tree_head(provider_signer, 5, tree.root())
    receipt = make_receipt(tree.leaf(2), 2, head, tree.inclusion_proof(2, 5), "urn:uuid:a")
    assert receipt_problems(
        receipt, provider_signer.public_key(), consumer_signer.public_key()
    ) == ["countersignature missing"]
    signed = countersign(receipt, consumer_signer, provider_signer.public_key())
    keys = (provider_signer.public_key(), consumer_signer.public_key())
    assert receipt_problems(signed, *keys) == []
    assert Receipt.from_json(json.loads(json.dumps(signed.to_json()))) == signed
    moved = dataclasses.replace(signed, index=3)
    assert "countersignature invalid" in receipt_problems(moved, *keys)
    assert "inclusion proof does not verify" in receipt_problems(moved, *keys)
    with pytest.raises(SignatureError):
        countersign(dataclasses.replace(receipt, index=1), consumer_signer, keys[0])
    with pytest.raises(SignatureError):
        countersign(receipt, consumer_signer, consumer_signer.public_key())


def _issued(
    signer: KeySigner, n: int, agreement: Any = lambda i: "urn:uuid:a"
) -> tuple[MerkleTree, list[Receipt]]:
    """A log of ``n`` records and the provider's receipt for each (agreement by index)."""
    tree = MerkleTree([record(i).leaf_hash() for i in range(n)])
    head = sign_tree_head(signer, n, tree.root())
    return tree, [
        make_receipt(tree.leaf(i), i, head, tree.inclusion_proof(i, n), agreement(i))
        for i in range(n)
    ]


def test_batch_countersigning_checks_each_receipt(
    provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    """A delivered batch is countersigned once; each receipt is checked and verifies alone."""
    tree, receipts = _issued(provider_signer, 6)
    receipts[4] = dataclasses.replace(receipts[4], index=5)  # proof no longer leads to the head
    keys = (provider_signer.public_key(), consumer_signer.public_key())
    out = countersign_all(receipts, consumer_signer, keys[0])
    assert [isinstance(o, Receipt) for o in out] == [True, True, True, True, False, True]
    assert isinstance(out[4], SignatureError) and out[4].reason == BAD_PROOF
    signed = [o for o in out if isinstance(o, Receipt)]
    assert len({o.countersignature for o in signed}) == 1  # one signature for the batch
    for o in signed:
        assert o.batch_size == 5 and receipt_problems(o, *keys) == []
        assert Receipt.from_json(json.loads(json.dumps(o.to_json()))) == o
    # a receipt cannot be moved to another record, nor its batch proof altered
    moved = dataclasses.replace(signed[1], leaf_hash=signed[2].leaf_hash)
    assert "countersignature invalid" in receipt_problems(moved, *keys)
    forged_proof = dataclasses.replace(signed[0], batch_proof=signed[1].batch_proof)
    assert receipt_problems(forged_proof, *keys) == ["countersignature invalid"]
    shrunk = dataclasses.replace(signed[0], batch_size=1, batch_proof=())
    assert receipt_problems(shrunk, *keys) == ["countersignature invalid"]

    forged = sign_tree_head(consumer_signer, 6, tree.root())  # not the provider's key
    mixed = receipts[:2] + [dataclasses.replace(r, tree_head=forged) for r in receipts[2:4]]
    out = countersign_all(mixed, consumer_signer, keys[0])
    assert [isinstance(o, Receipt) for o in out] == [True, True, False, False]
    assert [o.reason for o in out[2:] if isinstance(o, SignatureError)] == [BAD_HEAD, BAD_HEAD]


def test_the_provider_accepts_a_batch_with_one_check_and_its_own_proofs(
    provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    _, issued = _issued(provider_signer, 7, lambda i: f"urn:uuid:{i % 2}")
    keys = (provider_signer.public_key(), consumer_signer.public_key())
    by_kid = {consumer_signer.kid: keys[1]}
    answer = countersign_all(issued, consumer_signer, keys[0])  # two batches: two agreements
    halves = [r.countersignature_json() for r in answer if isinstance(r, Receipt)]
    accepted = accept_countersignatures(issued, halves, by_kid)
    assert accepted == answer  # the same receipts, proofs recomputed here
    for r in accepted:
        assert isinstance(r, Receipt) and receipt_problems(r, *keys) == []

    # a consumer that countersigns record by record is accepted too (checked one by one)
    single = [countersign(r, consumer_signer, keys[0]) for r in issued[:2]]
    singles = [r.countersignature_json() for r in single]
    assert accept_countersignatures(issued[:2], singles, by_kid) == single

    # what does not verify is refused, and only that
    flipped = dict(halves[3], countersignature="00" * 64)
    wrong_batch = dict(halves[0], batch={**halves[0]["batch"], "size": 9})
    out = accept_countersignatures(
        issued, [wrong_batch, *halves[1:3], flipped, {"problem": "no"}, *halves[5:]], by_kid
    )
    refused = [i for i, o in enumerate(out) if isinstance(o, SignatureError)]
    assert refused == [0, 3, 4]
    garbled = dict(halves[0], countersignature="not hex")  # a peer's malformed answer
    out = accept_countersignatures(issued[:1], [garbled], by_kid)
    assert isinstance(out[0], SignatureError) and "malformed" in out[0].reason
    assert all(isinstance(o, Receipt) and receipt_problems(o, *keys) == [] for o in out[5:])
    unknown = accept_countersignatures(issued, halves, {})
    assert all(isinstance(o, SignatureError) and "unknown" in o.reason for o in unknown)


def test_checked_signatures_are_remembered_exactly(provider_signer: KeySigner) -> None:
    checked = VerifiedSignatures(size=2)
    head = sign_tree_head(provider_signer, 3, b"\x01" * 32)
    key = provider_signer.public_key()
    assert checked.verify(key, head.message(), head.signature)
    assert not checked.verify(key, head.message() + b"x", head.signature)
    assert not checked.verify(key, head.message(), b"\x00" * 64)  # evicts: size is 2
    assert checked.verify(key, head.message(), head.signature)


def test_record_time_is_now_in_rfc3339_utc_with_milliseconds() -> None:
    from datetime import UTC, datetime, timedelta

    before = datetime.now(UTC).replace(microsecond=0)
    stamps = [Record("did:a", "did:b", "urn:x", "use", "permit").time for _ in range(3)]
    after = datetime.now(UTC) + timedelta(milliseconds=1)
    for stamp in stamps:
        assert len(stamp) == 24 and stamp.endswith("Z") and stamp[10] == "T"
        parsed = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert before <= parsed <= after
    assert stamps == sorted(stamps)


_digests = st.binary(min_size=32, max_size=32)


@settings(max_examples=200, deadline=None)
@given(
    agreement_id=st.text(),
    kid=st.text(),
    countersigner=st.none() | st.text(),
    index=st.integers(0, 2**40),
    proof=st.lists(_digests, max_size=20),
    countersignature=st.none() | st.binary(min_size=64, max_size=72),
    batch=st.none() | st.tuples(st.integers(1, 200), st.integers(0, 199), st.lists(_digests)),
)
def test_receipt_json_text_is_json_dumps_of_its_document(
    agreement_id: str,
    kid: str,
    countersigner: str | None,
    index: int,
    proof: list[bytes],
    countersignature: bytes | None,
    batch: tuple[int, int, list[bytes]] | None,
) -> None:
    head = TreeHead(index + 1, b"\x01" * 32, 1_763_700_000_000, b"\x02" * 64, kid)
    receipt = Receipt(
        index,
        b"\x03" * 32,
        head,
        tuple(proof),
        countersignature,
        countersigner,
        agreement_id,
        None if batch is None else batch[0],
        0 if batch is None else batch[1],
        () if batch is None else tuple(batch[2]),
    )
    text = receipt.to_json_text()
    assert text == json.dumps(receipt.to_json())
    assert Receipt.from_json(json.loads(text)) == receipt


@settings(max_examples=50, deadline=None)
@given(
    st.text(min_size=1), st.text(min_size=1), st.dictionaries(st.text(), json_values, max_size=3)
)
def test_authored_and_signed_records_are_rfc8785(
    author: str, kid: str, details: dict[str, Any]
) -> None:
    r = record(details=details, author=author)
    try:
        expected = rfc8785.dumps(r.to_json())
    except rfc8785.CanonicalizationError:
        return
    assert r.canonical() == expected
    signed = dataclasses.replace(r, signature={"kid": kid, "value": "ab"})
    assert signed.canonical() == rfc8785.dumps(signed.to_json())
    assert Record.from_canonical(signed.canonical()) == signed
    assert signed.unsigned() == r


def test_a_record_without_author_keeps_its_old_bytes() -> None:
    old = b"".join(
        [
            b'{"action":"use","agreement_id":"urn:uuid:agreement-0","consumer":"did:web:company.',
            b'example","decision":"permit","details":{},"kind":"access","provider":"did:web:city.',
            b'example","request_hash":"","response_hash":"","time":"2026-11-21T12:00:00.000Z"}',
        ]
    )
    legacy = Record.from_canonical(old)
    assert legacy.author == "" and legacy.signature is None
    assert legacy.canonical() == old


@pytest.mark.parametrize(
    "member",
    [
        {"author": ""},
        {"author": 7},
        {"signature": None},
        {"signature": {"kid": "did:web:company.example#k"}},
        {"signature": {"kid": "did:web:company.example#k", "value": "zz"}},
        {"signature": {"kid": "", "value": "ab"}},
        {"signature": {"kid": "did:web:company.example#k", "value": "ab"}},  # no author
    ],
)
def test_malformed_author_or_signature_rejected(member: dict[str, Any]) -> None:
    doc = record().to_json() | member
    with pytest.raises(RecordError):
        Record.from_json(doc)


def test_a_statement_verifies_only_with_its_authors_key(
    provider_signer: KeySigner, consumer_signer: KeySigner
) -> None:
    from ledger.statements import (
        STATEMENT_CONTEXT,
        sign_statement,
        statement_message,
        verify_statement,
    )

    author = consumer_signer.kid.split("#", 1)[0]
    statement = sign_statement(record(author=author), consumer_signer)
    verify_statement(statement, consumer_signer.public_key())
    assert statement_message(statement).startswith(STATEMENT_CONTEXT)
    with pytest.raises(SignatureError, match="does not verify"):
        verify_statement(statement, provider_signer.public_key())
    with pytest.raises(SignatureError, match="does not verify"):
        verify_statement(
            dataclasses.replace(statement, decision="deny"), consumer_signer.public_key()
        )
    with pytest.raises(SignatureError, match="not signed"):
        verify_statement(statement.unsigned(), consumer_signer.public_key())
    elsewhere = dataclasses.replace(statement, author="did:web:elsewhere.example")
    with pytest.raises(SignatureError, match="not a key of"):
        verify_statement(elsewhere, consumer_signer.public_key())
