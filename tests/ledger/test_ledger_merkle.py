"""RFC 9162 §2.1 hashing and proofs, checked against the recursive definitions."""

from __future__ import annotations

from hashlib import sha256

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError
from ledger.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_of,
    split_point,
    verify_consistency,
    verify_inclusion,
)

# The eight inputs used by Certificate Transparency's reference tests and their roots.
CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    bytes(range(0x50, 0x58)),
    bytes(range(0x60, 0x70)),
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def mth(data: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1, literally."""
    if not data:
        return sha256(b"").digest()
    if len(data) == 1:
        return leaf_hash(data[0])
    k = split_point(len(data))
    return node_hash(mth(data[:k]), mth(data[k:]))


def path(m: int, data: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1, literally."""
    if len(data) == 1:
        return []
    k = split_point(len(data))
    if m < k:
        return [*path(m, data[:k]), mth(data[k:])]
    return [*path(m - k, data[k:]), mth(data[:k])]


def subproof(m: int, data: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1, literally."""
    n = len(data)
    if m == n:
        return [] if b else [mth(data)]
    k = split_point(n)
    if m <= k:
        return [*subproof(m, data[:k], b), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


def leaves(n: int) -> list[bytes]:
    return [i.to_bytes(4, "big") for i in range(n)]


def test_ct_reference_roots() -> None:
    tree = MerkleTree([leaf_hash(d) for d in CT_INPUTS])
    for size, expected in enumerate(CT_ROOTS, 1):
        assert tree.root(size).hex() == expected
        assert mth(CT_INPUTS[:size]).hex() == expected


def test_empty_tree() -> None:
    assert MerkleTree().root() == EMPTY_ROOT == root_of([])
    assert MerkleTree().consistency_proof(0, 0) == []


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_proofs_match_rfc_and_verify(n: int, data: st.DataObject) -> None:
    d = leaves(n)
    tree = MerkleTree([leaf_hash(x) for x in d])
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    root = tree.root(size)
    assert root == mth(d[:size]) == root_of([leaf_hash(x) for x in d[:size]])
    proof = tree.inclusion_proof(index, size)
    assert proof == path(index, d[:size])
    assert verify_inclusion(leaf_hash(d[index]), index, size, proof, root)
    # wrong leaf, wrong index, impossible size, wrong root, damaged or extended proof all fail.
    # (A larger size can share the proof's shape; the signed head binds root and size.)
    assert not verify_inclusion(leaf_hash(b"other"), index, size, proof, root)
    if size > 1:
        wrong = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
        assert not verify_inclusion(leaf_hash(d[index]), wrong, size, proof, root)
    assert not verify_inclusion(leaf_hash(d[index]), index, index, proof, root)
    assert not verify_inclusion(leaf_hash(d[index]), index, size, proof, leaf_hash(b"x"))
    assert not verify_inclusion(leaf_hash(d[index]), index, size, [*proof, root], root)
    if proof:
        assert not verify_inclusion(leaf_hash(d[index]), index, size, proof[:-1], root)
        bad = [*proof]
        bad[0] = leaf_hash(b"bad")
        assert not verify_inclusion(leaf_hash(d[index]), index, size, bad, root)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.data())
def test_consistency_proofs_match_rfc_and_verify(n: int, data: st.DataObject) -> None:
    d = leaves(n)
    tree = MerkleTree([leaf_hash(x) for x in d])
    second = data.draw(st.integers(1, n))
    first = data.draw(st.integers(1, second))
    proof = tree.consistency_proof(first, second)
    expected = [] if first == second else subproof(first, d[:second], True)
    assert proof == expected
    r1, r2 = tree.root(first), tree.root(second)
    assert verify_consistency(first, second, proof, r1, r2)
    forged = mth([*d[: first - 1], b"forged"])
    assert not verify_consistency(first, second, proof, forged, r2)
    assert not verify_consistency(first, second, proof, r1, forged)
    if first < second:
        assert not verify_consistency(first, second, [*proof, r2], r1, r2)
        bad = [*proof]
        bad[-1] = leaf_hash(b"bad")
        assert not verify_consistency(first, second, bad, r1, r2)
    if first < second:
        assert not verify_consistency(second, first, proof, r2, r1)


def test_exhaustive_small_trees() -> None:
    """Every (index, size) and (first, second) pair up to 40 leaves, incremental vs bulk build."""
    d = leaves(40)
    hashes = [leaf_hash(x) for x in d]
    incremental = MerkleTree()
    for h in hashes:
        incremental.append(h)
    bulk = MerkleTree(hashes)
    for size in range(1, 41):
        assert incremental.root(size) == bulk.root(size) == mth(d[:size])
        for index in range(size):
            proof = bulk.inclusion_proof(index, size)
            assert verify_inclusion(hashes[index], index, size, proof, bulk.root(size))
        for first in range(1, size + 1):
            proof = incremental.consistency_proof(first, size)
            assert verify_consistency(first, size, proof, bulk.root(first), bulk.root(size))


@given(st.integers(1, 300), st.data())
def test_many_inclusion_proofs_at_once_match_single_ones(n: int, data: st.DataObject) -> None:
    d = leaves(n)
    tree = MerkleTree([leaf_hash(x) for x in d])
    size = data.draw(st.integers(1, n))
    indices = data.draw(st.lists(st.integers(0, size - 1), max_size=40))
    assert tree.inclusion_proofs(indices, size) == [path(i, d[:size]) for i in indices]
    with pytest.raises(ProofError):
        tree.inclusion_proofs([*indices, size], size)


def test_impossible_requests_raise() -> None:
    tree = MerkleTree([leaf_hash(x) for x in leaves(5)])
    for bad in [(5, 5), (-1, 3), (0, 6), (3, 2)]:
        with pytest.raises(ProofError):
            tree.inclusion_proof(*bad)
    with pytest.raises(ProofError):
        tree.consistency_proof(3, 6)
    with pytest.raises(ProofError):
        tree.consistency_proof(4, 3)
    with pytest.raises(ProofError):
        tree.root(6)
