"""Receipts: a provider's signed promise that a record sits at an index of its log, countersigned
by the consumer.

The provider hands the consumer ``(leaf hash, index, signed tree head, inclusion proof)``; the
consumer checks the proof against the head, logs the same canonical record on its own ledger and
countersigns. Each party then holds evidence the other cannot deny: a provider that later hides or
alters the record is caught by the consumer's receipt, and a consumer that denies it is caught by
its own countersignature.

A consumer that receives many receipts at once (a busy data plane logs every access) signs them
as one *batch*: it builds a small Merkle tree over the batch's ``(index, leaf hash)`` pairs and
signs its root once. Each receipt still stands alone: it carries its position in the batch and
the RFC 9162 inclusion proof to the batch root, so the countersignature of any one receipt can
be checked without the others, while the signing (and the provider's verification) is done once
per batch instead of once per record.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from json.encoder import encode_basestring_ascii as _quote
from typing import Any

from .errors import SignatureError
from .merkle import MerkleTree, root_from_inclusion, verify_inclusion
from .merkle import leaf_hash as merkle_leaf_hash
from .records import canonicalize
from .signing import PublicKey, Signer, VerifiedSignatures, verify_signature
from .treehead import TreeHead

BAD_HEAD = "the receipt's tree head is not signed by the provider's key"
BAD_PROOF = "the receipt's inclusion proof does not lead to its tree head"


@dataclass(frozen=True, slots=True)
class Receipt:
    index: int
    leaf_hash: bytes
    tree_head: TreeHead
    inclusion_proof: tuple[bytes, ...] = ()
    countersignature: bytes | None = None
    countersigner_kid: str | None = None
    agreement_id: str = field(default="")
    #: set when countersigned as part of a batch: the batch's size, this receipt's position in
    #: it and the inclusion proof of :meth:`batch_leaf` to the batch root
    batch_size: int | None = None
    batch_position: int = 0
    batch_proof: tuple[bytes, ...] = ()

    def batch_leaf(self) -> bytes:
        """This receipt's leaf in its batch tree: the hash of its index and leaf hash."""
        return batch_leaf(self.index, self.leaf_hash)

    def message(self) -> bytes:
        """What the countersignature covers (RFC 8785 JSON): agreement, tree head and either
        this receipt's index and leaf hash, or the root and size of the batch it belongs to."""
        if self.batch_size is None:
            return _record_message(self.agreement_id, self.tree_head, self.index, self.leaf_hash)
        root = root_from_inclusion(
            self.batch_leaf(), self.batch_position, self.batch_size, self.batch_proof
        )  # None: no signature matches
        return _batch_message(self.agreement_id, self.tree_head, root, self.batch_size)

    def proves_inclusion(self) -> bool:
        """RFC 9162 §2.1.3.2 check of the bundled proof against the bundled tree head."""
        head = self.tree_head
        return verify_inclusion(
            self.leaf_hash, self.index, head.size, self.inclusion_proof, head.root
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "agreement_id": self.agreement_id,
            "index": self.index,
            "leaf_hash": self.leaf_hash.hex(),
            "tree_head": self.tree_head.to_json(),
            "inclusion_proof": [h.hex() for h in self.inclusion_proof],
            **self.countersignature_json(),
        }

    def to_json_text(self) -> str:
        """``json.dumps(self.to_json())``, assembled directly: receipts are stored by the
        hundred per delivery and this is most of their cost (hex digests need no escaping;
        the free-text ids get json's own ASCII escaping). Property-tested equal."""
        head = self.tree_head
        counter = self.countersignature
        parts = [
            '{"agreement_id": ',
            _quote(self.agreement_id),
            ', "index": ',
            str(int(self.index)),
            ', "leaf_hash": "',
            self.leaf_hash.hex(),
            '", "tree_head": {"size": ',
            str(int(head.size)),
            ', "root": "',
            head.root.hex(),
            '", "timestamp": ',
            str(int(head.timestamp)),
            ', "signature": "',
            head.signature.hex(),
            '", "kid": ',
            _quote(head.kid),
            '}, "inclusion_proof": ',
            _hex_list(self.inclusion_proof),
            ', "countersignature": ',
            "null" if counter is None else '"' + counter.hex() + '"',
            ', "countersigner_kid": ',
            "null" if self.countersigner_kid is None else _quote(self.countersigner_kid),
        ]
        if self.batch_size is not None:
            parts += [
                ', "batch": {"size": ',
                str(int(self.batch_size)),
                ', "position": ',
                str(int(self.batch_position)),
                ', "proof": ',
                _hex_list(self.batch_proof),
                "}",
            ]
        parts.append("}")
        return "".join(parts)

    def countersignature_json(self) -> dict[str, Any]:
        """The consumer's half alone: what it adds to a receipt the provider already holds."""
        doc: dict[str, Any] = {
            "countersignature": None
            if self.countersignature is None
            else self.countersignature.hex(),
            "countersigner_kid": self.countersigner_kid,
        }
        if self.batch_size is not None:
            doc["batch"] = {
                "size": self.batch_size,
                "position": self.batch_position,
                "proof": [h.hex() for h in self.batch_proof],
            }
        return doc

    def with_countersignature_json(self, doc: Mapping[str, Any]) -> Receipt:
        """This receipt with the consumer's half from :meth:`countersignature_json` (not
        verified here: see :func:`receipt_problems`)."""
        try:
            counter = doc.get("countersignature")
            batch = doc.get("batch")
            kid = doc.get("countersigner_kid")
            return self._countersigned(
                None if counter is None else bytes.fromhex(counter),
                None if kid is None else str(kid),
                None if batch is None else int(batch["size"]),
                0 if batch is None else int(batch["position"]),
                () if batch is None else tuple(bytes.fromhex(h) for h in batch["proof"]),
            )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"malformed countersignature: {exc}") from exc

    def _countersigned(
        self,
        countersignature: bytes | None,
        kid: str | None,
        batch_size: int | None,
        batch_position: int,
        batch_proof: tuple[bytes, ...],
    ) -> Receipt:
        """This receipt with another consumer half (what ``dataclasses.replace`` would give,
        without its per-call introspection: receipts are completed by the hundred)."""
        return Receipt(
            self.index,
            self.leaf_hash,
            self.tree_head,
            self.inclusion_proof,
            countersignature,
            kid,
            self.agreement_id,
            batch_size,
            batch_position,
            batch_proof,
        )

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Receipt:
        try:
            issued = cls(
                index=int(doc["index"]),
                leaf_hash=bytes.fromhex(doc["leaf_hash"]),
                tree_head=TreeHead.from_json(doc["tree_head"]),
                inclusion_proof=tuple(bytes.fromhex(h) for h in doc.get("inclusion_proof", [])),
                agreement_id=str(doc.get("agreement_id", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"malformed receipt: {exc}") from exc
        return issued.with_countersignature_json(doc)


def make_receipt(
    leaf_hash: bytes,
    index: int,
    tree_head: TreeHead,
    inclusion_proof: Sequence[bytes],
    agreement_id: str = "",
) -> Receipt:
    """The provider's half: where the record is and the signed head that commits to it."""
    return Receipt(index, leaf_hash, tree_head, tuple(inclusion_proof), agreement_id=agreement_id)


def countersign(receipt: Receipt, signer: Signer, provider_key: PublicKey) -> Receipt:
    """The consumer's half: check the provider's head and proof, then sign the receipt."""
    if not receipt.tree_head.verify(provider_key):
        raise SignatureError(BAD_HEAD)
    if not receipt.proves_inclusion():
        raise SignatureError(BAD_PROOF)
    return replace(
        receipt, countersignature=signer.sign(receipt.message()), countersigner_kid=signer.kid
    )


def countersign_all(
    receipts: Sequence[Receipt], signer: Signer, provider_key: PublicKey
) -> list[Receipt | SignatureError]:
    """The consumer's half for a delivered batch: one countersignature per agreement.

    Each distinct tree head's signature is checked once and every inclusion proof on its own;
    the receipts that pass are countersigned together (see the module docstring). Each position
    of the answer holds the countersigned receipt or the :class:`SignatureError` refusing it.
    """
    heads: dict[TreeHead, bool] = {}
    out: list[Receipt | SignatureError] = []
    passed: dict[tuple[str, TreeHead], list[int]] = {}
    for position, receipt in enumerate(receipts):
        head = receipt.tree_head
        if head not in heads:
            heads[head] = head.verify(provider_key)
        if not heads[head]:
            out.append(SignatureError(BAD_HEAD))
        elif not receipt.proves_inclusion():
            out.append(SignatureError(BAD_PROOF))
        else:
            out.append(receipt)
            passed.setdefault((receipt.agreement_id, head), []).append(position)
    for positions in passed.values():
        group = [receipts[p] for p in positions]
        message, proofs = _batch(group)
        signed = _sealed(group, signer.sign(message), signer.kid, proofs)
        for p, receipt in zip(positions, signed, strict=True):
            out[p] = receipt
    return out


def _batch(group: Sequence[Receipt]) -> tuple[bytes, list[list[bytes]]]:
    """What one countersignature over ``group`` (one agreement, one tree head) covers, and
    each receipt's inclusion proof into the batch tree."""
    tree = MerkleTree([r.batch_leaf() for r in group])
    size = len(group)
    first = group[0]
    message = _batch_message(first.agreement_id, first.tree_head, tree.root(), size)
    return message, tree.inclusion_proofs(range(size), size)


def _sealed(
    group: Sequence[Receipt], signature: bytes, kid: str, proofs: Sequence[Sequence[bytes]]
) -> list[Receipt]:
    """``group`` completed with the batch's countersignature and each one's batch proof."""
    size = len(group)
    return [
        r._countersigned(signature, kid, size, k, tuple(proof))
        for k, (r, proof) in enumerate(zip(group, proofs, strict=True))
    ]


def accept_countersignatures(
    issued: Sequence[Receipt],
    halves: Sequence[Mapping[str, Any]],
    keys: Mapping[str, PublicKey],
) -> list[Receipt | SignatureError]:
    """The provider's side of :func:`countersign_all`: each receipt we issued, completed with
    the consumer's half from its answer (:meth:`Receipt.countersignature_json`) and checked
    against ``keys`` (the consumer's public keys by key id).

    Receipts the consumer signed as one batch (one signature, positions 0..n-1 in order, one
    agreement) are checked together: the batch root is recomputed from our own receipts, the
    signature verified once, and the batch proofs we keep are computed here, so nothing of the
    consumer's answer is trusted beyond its signature. Anything else is checked one by one.
    """
    out: list[Receipt | SignatureError] = [SignatureError("no countersignature")] * len(issued)
    batches: dict[tuple[str, str], list[int]] = {}
    for position, half in enumerate(halves):
        counter, kid = half.get("countersignature"), half.get("countersigner_kid")
        if isinstance(counter, str) and isinstance(kid, str):
            batches.setdefault((counter, kid), []).append(position)
    checked = VerifiedSignatures()
    for (counter, kid), positions in batches.items():
        key = keys.get(kid)
        if key is None:
            for p in positions:
                out[p] = SignatureError(f"unknown countersigner key {kid!r}")
            continue
        group = [issued[p] for p in positions]
        together = _as_batch(group, [halves[p] for p in positions], counter, kid, key)
        if together is not None:
            for p, receipt in zip(positions, together, strict=True):
                out[p] = receipt
            continue
        for p in positions:  # not one well-formed batch: each receipt on its own
            try:
                signed = issued[p].with_countersignature_json(halves[p])
            except SignatureError as exc:
                out[p] = exc
                continue
            assert signed.countersignature is not None
            ok = checked.verify(key, signed.message(), signed.countersignature)
            out[p] = signed if ok else SignatureError("the countersignature does not verify")
    return out


def _as_batch(
    group: Sequence[Receipt],
    halves: Sequence[Mapping[str, Any]],
    counter: str,
    kid: str,
    key: PublicKey,
) -> list[Receipt] | None:
    """``group`` countersigned as the batch its halves describe, or None if they do not
    describe exactly this batch or the signature does not verify over its root."""
    size = len(group)
    first = group[0]
    for k, (receipt, half) in enumerate(zip(group, halves, strict=True)):
        batch = half.get("batch")
        if (
            not isinstance(batch, Mapping)
            or batch.get("size") != size
            or batch.get("position") != k
            or receipt.agreement_id != first.agreement_id
            or receipt.tree_head != first.tree_head
        ):
            return None
    try:
        signature = bytes.fromhex(counter)
    except ValueError:
        return None
    message, proofs = _batch(group)
    if not verify_signature(key, message, signature):
        return None
    return _sealed(group, signature, kid, proofs)


def _record_message(agreement_id: str, head: TreeHead, index: int, leaf_hash: bytes) -> bytes:
    return canonicalize(
        {
            "agreement_id": agreement_id,
            "index": index,
            "leaf_hash": leaf_hash.hex(),
            "tree_head": head.to_json(),
        }
    )


@lru_cache(maxsize=256)
def _batch_message(agreement_id: str, head: TreeHead, root: bytes | None, size: int) -> bytes:
    """Memoised: every receipt of a batch has the same message."""
    return canonicalize(
        {
            "agreement_id": agreement_id,
            "batch_root": "" if root is None else root.hex(),
            "batch_size": size,
            "tree_head": head.to_json(),
        }
    )


def _hex_list(hashes: Sequence[bytes]) -> str:
    """A JSON array of hex digests, as ``json.dumps`` writes it."""
    return "[" + ", ".join(['"' + h.hex() + '"' for h in hashes]) + "]"


def batch_leaf(index: int, leaf_hash: bytes) -> bytes:
    """The leaf of a receipt in its batch tree (RFC 9162 leaf hash of index and leaf hash)."""
    return merkle_leaf_hash(index.to_bytes(8, "big") + leaf_hash)


def receipt_problems(
    receipt: Receipt,
    provider_key: PublicKey,
    consumer_key: PublicKey,
    checked: VerifiedSignatures | None = None,
) -> list[str]:
    """Every reason the receipt is not full evidence; empty when it is. Pass one ``checked``
    when checking many receipts: a head or batch signature they share is verified once."""
    verify = verify_signature if checked is None else checked.verify
    head = receipt.tree_head
    problems = []
    if not verify(provider_key, head.message(), head.signature):
        problems.append("tree head signature invalid")
    if not receipt.proves_inclusion():
        problems.append("inclusion proof does not verify")
    if receipt.countersignature is None:
        problems.append("countersignature missing")
    elif not verify(consumer_key, receipt.message(), receipt.countersignature):
        problems.append("countersignature invalid")
    return problems
