"""Signed tree heads: a log's commitment to its size and root (RFC 9162 §4.10, simplified).

The JSON form is ``{"size", "root", "timestamp", "signature", "kid"}`` with hex ``root`` and
``signature`` and ``timestamp`` in milliseconds since the epoch. The signature covers the RFC 8785
canonical JSON of the other four members.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import SignatureError
from .records import canonicalize
from .signing import PublicKey, Signer, verify_signature


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def tree_head_message(size: int, root: bytes, timestamp: int, kid: str) -> bytes:
    """The bytes a tree head signature covers."""
    return canonicalize({"kid": kid, "root": root.hex(), "size": size, "timestamp": timestamp})


@dataclass(frozen=True, slots=True)
class TreeHead:
    size: int
    root: bytes
    timestamp: int
    signature: bytes
    kid: str

    def message(self) -> bytes:
        return tree_head_message(self.size, self.root, self.timestamp, self.kid)

    def verify(self, public_key: PublicKey) -> bool:
        return verify_signature(public_key, self.message(), self.signature)

    def to_json(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "timestamp": self.timestamp,
            "signature": self.signature.hex(),
            "kid": self.kid,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> TreeHead:
        try:
            size, timestamp = doc["size"], doc["timestamp"]
            if not isinstance(size, int) or not isinstance(timestamp, int) or size < 0:
                raise TypeError("size and timestamp must be non-negative integers")
            root = bytes.fromhex(doc["root"])
            if len(root) != 32:
                raise ValueError("root must be 32 bytes")
            return cls(size, root, timestamp, bytes.fromhex(doc["signature"]), str(doc["kid"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"malformed tree head: {exc}") from exc


def sign_tree_head(
    signer: Signer, size: int, root: bytes, timestamp: int | None = None
) -> TreeHead:
    """Sign ``(size, root, timestamp)`` with the caller's signer."""
    timestamp = now_ms() if timestamp is None else timestamp
    signature = signer.sign(tree_head_message(size, root, timestamp, signer.kid))
    return TreeHead(size, root, timestamp, signature, signer.kid)
