"""Receipts: a provider's signed promise that a record sits at an index of its log, countersigned
by the consumer.

The provider hands the consumer ``(leaf hash, index, signed tree head, inclusion proof)``; the
consumer checks the proof against the head, logs the same canonical record on its own ledger and
countersigns. Each party then holds evidence the other cannot deny: a provider that later hides or
alters the record is caught by the consumer's receipt, and a consumer that denies it is caught by
its own countersignature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import SignatureError
from .merkle import verify_inclusion
from .records import canonicalize
from .signing import PublicKey, Signer, verify_signature
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

    def message(self) -> bytes:
        """What the countersignature covers: RFC 8785 JSON of leaf hash, index and tree head."""
        return canonicalize(
            {
                "agreement_id": self.agreement_id,
                "index": self.index,
                "leaf_hash": self.leaf_hash.hex(),
                "tree_head": self.tree_head.to_json(),
            }
        )

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
            "countersignature": None
            if self.countersignature is None
            else self.countersignature.hex(),
            "countersigner_kid": self.countersigner_kid,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Receipt:
        try:
            counter = doc.get("countersignature")
            return cls(
                index=int(doc["index"]),
                leaf_hash=bytes.fromhex(doc["leaf_hash"]),
                tree_head=TreeHead.from_json(doc["tree_head"]),
                inclusion_proof=tuple(bytes.fromhex(h) for h in doc.get("inclusion_proof", [])),
                countersignature=None if counter is None else bytes.fromhex(counter),
                countersigner_kid=doc.get("countersigner_kid"),
                agreement_id=str(doc.get("agreement_id", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"malformed receipt: {exc}") from exc


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
    """:func:`countersign` for a delivered batch, each distinct tree head verified once.

    A provider issues one signed head for a whole batch, so checking its signature per receipt
    would repeat the same Ed25519 verification; every inclusion proof is still checked. Each
    position holds the countersigned receipt or the :class:`SignatureError` that refused it.
    """
    heads: dict[TreeHead, bool] = {}
    out: list[Receipt | SignatureError] = []
    for receipt in receipts:
        head = receipt.tree_head
        if head not in heads:
            heads[head] = head.verify(provider_key)
        if not heads[head]:
            out.append(SignatureError(BAD_HEAD))
        elif not receipt.proves_inclusion():
            out.append(SignatureError(BAD_PROOF))
        else:
            out.append(
                replace(
                    receipt,
                    countersignature=signer.sign(receipt.message()),
                    countersigner_kid=signer.kid,
                )
            )
    return out


def receipt_problems(
    receipt: Receipt, provider_key: PublicKey, consumer_key: PublicKey
) -> list[str]:
    """Every reason the receipt is not full evidence; empty when it is."""
    problems = []
    if not receipt.tree_head.verify(provider_key):
        problems.append("tree head signature invalid")
    if not receipt.proves_inclusion():
        problems.append("inclusion proof does not verify")
    if receipt.countersignature is None:
        problems.append("countersignature missing")
    elif not verify_signature(consumer_key, receipt.message(), receipt.countersignature):
        problems.append("countersignature invalid")
    return problems
