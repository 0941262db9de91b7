"""Merkle tree hashing, proofs and proof verification as defined by RFC 9162 section 2.1.

Hashes are SHA-256. Leaves and interior nodes are domain-separated (RFC 9162 section 2.1.1): a
leaf hash is ``SHA-256(0x00 || data)`` and a node hash is ``SHA-256(0x01 || left || right)``.

:class:`MerkleTree` keeps the leaf hashes and every complete, power-of-two aligned subtree hash,
so any subtree hash (and therefore any proof) costs O(log n) hash operations.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

from .errors import ProofError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH(D[n]) = HASH(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return sha256(NODE_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """RFC 9162 §2.1.1: k, the largest power of two smaller than n (for n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1: MTH of a list of leaf hashes, computed level by level.

    Promoting the odd last node of a level unchanged gives the same tree as splitting at the
    largest power of two, so this equals the recursive definition for every size.
    """
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    while len(level) > 1:
        paired = [
            sha256(NODE_PREFIX + a + b).digest()
            for a, b in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class MerkleTree:
    """An append-only tree of leaf hashes with cached complete subtrees (RFC 9162 §2.1).

    ``_levels[h]`` holds, concatenated, the hashes of the complete aligned subtrees of height h:
    entry i covers leaves [i * 2**h, (i + 1) * 2**h). The cache costs about two hashes per leaf.
    """

    def __init__(self, leaf_hashes: Sequence[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.extend(leaf_hashes)

    @property
    def size(self) -> int:
        return len(self._levels[0]) // HASH_SIZE

    def __len__(self) -> int:
        return self.size

    def leaf(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise ProofError(f"leaf {index} is outside a tree of size {self.size}")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; returns its index. Completes cached subtrees on the way up."""
        index = self.size
        self._levels[0] += leaf
        node, height, position = leaf, 0, index
        while position % 2 == 1:
            left = self._node(height, position - 1)
            node = node_hash(left, node)
            height, position = height + 1, position // 2
            if len(self._levels) == height:
                self._levels.append(bytearray())
            self._levels[height] += node
        return index

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Add many leaf hashes; bulk-builds the cache level by level when the tree is empty."""
        if self.size or len(leaf_hashes) < 2:
            for leaf in leaf_hashes:
                self.append(leaf)
            return
        self._levels = [bytearray(b"".join(leaf_hashes))]
        level = list(leaf_hashes)
        while len(level) > 1:
            level = [
                sha256(NODE_PREFIX + a + b).digest()
                for a, b in zip(level[0::2], level[1::2], strict=False)
            ]
            self._levels.append(bytearray(b"".join(level)))

    def _node(self, height: int, position: int) -> bytes:
        start = position * HASH_SIZE
        return bytes(self._levels[height][start : start + HASH_SIZE])

    def subtree_hash(self, start: int, end: int) -> bytes:
        """RFC 9162 §2.1.1: MTH(D[start:end]) where the range is one the definition recurses into.

        Complete aligned subtrees come from the cache; a ragged right edge is split at the
        largest power of two, so at most O(log n) nodes are hashed.
        """
        n = end - start
        if n <= 0 or end > self.size:
            raise ProofError(f"no subtree [{start}, {end}) in a tree of size {self.size}")
        height = n.bit_length() - 1
        if n == 1 << height and start % n == 0:
            return self._node(height, start >> height)
        k = split_point(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1: MTH(D[size]) of the first ``size`` leaves (default: all)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise ProofError(f"no tree of size {size}: the log holds {self.size} leaves")
        return EMPTY_ROOT if size == 0 else self.subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1: PATH(index, D[size])."""
        return self.inclusion_proofs([index], size)[0]

    def inclusion_proofs(self, indices: Sequence[int], size: int) -> list[list[bytes]]:
        """:meth:`inclusion_proof` for many leaves of one tree size, sharing the ragged right
        subtrees they have in common (recent leaves all need them) instead of rehashing."""
        memo: dict[tuple[int, int], bytes] = {}
        out = []
        for index in indices:
            if not 0 <= index < size <= self.size:
                raise ProofError(f"no inclusion proof for leaf {index} in a tree of size {size}")
            out.append(self._path(index, size, memo))
        return out

    def _path(self, m: int, size: int, memo: dict[tuple[int, int], bytes]) -> list[bytes]:
        """PATH(m, D[0:size]) of §2.1.3.1, walked from the root down without recursion: each
        step keeps the half that holds leaf m and notes the other half's hash; the path is
        those hashes from the leaf up. A left half is always a complete, aligned subtree (read
        from the cache); a right half may be ragged (hashed once per batch, in ``memo``)."""
        siblings: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = split_point(end - start)
            if m < start + k:
                right = (start + k, end)
                found = memo.get(right)
                if found is None:
                    found = memo[right] = self.subtree_hash(start + k, end)
                end = start + k
            else:
                height = k.bit_length() - 1
                found = self._node(height, start >> height)
                start += k
            siblings.append(found)
        siblings.reverse()
        return siblings

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1: PROOF(first, D[second]) = SUBPROOF(first, D[second], true)."""
        if not 0 <= first <= second <= self.size:
            raise ProofError(f"no consistency proof from size {first} to size {second}")
        if first == 0 or first == second:
            return []
        return self._subproof(first, 0, second, True)

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.subtree_hash(start, end)]
        k = split_point(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self.subtree_hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self.subtree_hash(start, start + k)]


def root_from_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root that the proof leads to from leaf hash ``leaf`` at ``index``
    of a tree of ``size`` leaves; None when the proof cannot be one for that position."""
    if not 0 <= index < size:
        return None
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2: is the leaf hash ``leaf`` at ``index`` of the tree with ``root``?"""
    return root_from_inclusion(leaf, index, size, proof) == root


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 §2.1.4.2: verify that tree ``second_root`` extends tree ``first_root``."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)  # step 2: first is an exact power of two
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
