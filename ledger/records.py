"""Provenance records and their canonical form (RFC 8785 JSON Canonicalization Scheme).

A record is what one party logs about one event between participants: a contract negotiation or
transfer step, a data-plane access, a notification, a consent, a payment. The bytes that enter the
Merkle tree are the record's RFC 8785 canonical JSON, so both parties derive the same leaf hash
from the same facts.

Every record names its ``author``: the participant whose statement it is. Both parties of an
agreement hold each other's records, so a log holds its owner's own records and the
counter-party's statements side by side; a statement a counter-party hands over also carries the
author's ``signature`` (see :mod:`ledger.statements`). Records logged before authors were recorded
have neither member and keep their bytes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring as _quote
from typing import Any

import orjson
import rfc8785

from .errors import RecordError
from .merkle import leaf_hash

RECORD_FIELDS = (
    "kind",
    "provider",
    "consumer",
    "agreement_id",
    "action",
    "request_hash",
    "response_hash",
    "decision",
    "time",
    "details",
)
#: members present only when set (records logged before them keep their canonical bytes)
OPTIONAL_FIELDS = ("author", "signature")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of a request or response body, as recorded in ``request_hash``."""
    return hashlib.sha256(data).hexdigest()


def utc_now(digits: int = 3) -> str:
    """The current time as RFC 3339 UTC with ``digits`` fractional digits (3: milliseconds,
    the form records carry; the NGSI-LD broker stamps with 6).

    Every record takes one; the date and time up to the second are formatted once per second
    (``strftime`` was a noticeable share of building an access record)."""
    global _SECOND
    second, ns = divmod(time.time_ns(), 1_000_000_000)
    cached = _SECOND
    if cached[0] != second:
        cached = _SECOND = (second, time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))
    return f"{cached[1]}{ns // 10 ** (9 - digits):0{digits}d}Z"


_SECOND: tuple[int, str] = (-1, "")


@dataclass(frozen=True, slots=True)
class Record:
    """One provenance event. Participants are DIDs; hashes are hex SHA-256 of the bodies.

    ``kind`` names the event family (e.g. "negotiation", "transfer", "access", "notification",
    "consent", "payment"); ``details`` carries any JSON the kind needs (no floats: RFC 8785 number
    forms are not worth the ambiguity in an audit trail).
    """

    provider: str
    consumer: str
    agreement_id: str
    action: str
    decision: str
    request_hash: str = ""
    response_hash: str = ""
    time: str = field(default_factory=utc_now)
    kind: str = "access"
    details: Mapping[str, Any] = field(default_factory=dict)
    #: the DID whose statement this is ("": logged before authors were recorded)
    author: str = ""
    #: the author's signature of :func:`ledger.statements.statement_message`:
    #: ``{"kid": <key id>, "value": <hex>}``; None when unsigned
    signature: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {name: getattr(self, name) for name in RECORD_FIELDS}
        doc["details"] = dict(self.details)
        if self.author:
            doc["author"] = self.author
        if self.signature is not None:
            doc["signature"] = dict(self.signature)
        return doc

    def unsigned(self) -> Record:
        """This record without its signature: what the author signs."""
        if self.signature is None:
            return self
        return Record(
            self.provider,
            self.consumer,
            self.agreement_id,
            self.action,
            self.decision,
            self.request_hash,
            self.response_hash,
            self.time,
            self.kind,
            self.details,
            self.author,
        )

    def canonical(self) -> bytes:
        """RFC 8785 canonical JSON of the record: the leaf data of the Merkle tree.

        The member names are fixed ASCII, so their RFC 8785 §3.2.3 order is known in advance and
        only the values need serializing (the hot path of every append); anything unusual takes
        the general route. Both are property-tested against the ``rfc8785`` package."""
        values = (
            self.action,
            self.agreement_id,
            self.consumer,
            self.decision,
            self.kind,
            self.provider,
            self.request_hash,
            self.response_hash,
            self.time,
        )
        if not all(type(v) is str for v in values) or type(self.author) is not str:
            return canonicalize(self.to_json())
        if self.signature is not None:
            return canonicalize(self.to_json())
        details = canonicalize(self.details) if self.details else b"{}"
        a, g, c, d, k, p, q, r, t = (_quote(v) for v in values)
        by = f'"author":{_quote(self.author)},' if self.author else ""
        try:
            head = f'{{"action":{a},"agreement_id":{g},{by}"consumer":{c},"decision":{d},"details":'
            tail = f',"kind":{k},"provider":{p},"request_hash":{q},"response_hash":{r},"time":{t}}}'
            return head.encode() + details + tail.encode()
        except UnicodeEncodeError as exc:
            raise RecordError(f"record cannot be canonicalized: {exc}") from exc

    def leaf_hash(self) -> bytes:
        return leaf_hash(self.canonical())

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Record:
        missing = [n for n in RECORD_FIELDS if n not in doc]
        extra = [n for n in doc if n not in RECORD_FIELDS and n not in OPTIONAL_FIELDS]
        if missing or extra:
            raise RecordError(f"record fields missing {missing} or unknown {extra}")
        for name in RECORD_FIELDS[:-1]:
            if not isinstance(doc[name], str):
                raise RecordError(f"record field {name!r} must be a string")
        if not isinstance(doc["details"], Mapping):
            raise RecordError("record field 'details' must be an object")
        author = doc.get("author", "")
        if "author" in doc and (not isinstance(author, str) or not author):
            raise RecordError("record field 'author' must be a non-empty string (a DID)")
        signature = doc.get("signature")
        if signature is not None:
            signature = _signature_member(signature)
        elif "signature" in doc:
            raise RecordError("record field 'signature' must be an object, not null")
        if signature is not None and not author:
            raise RecordError("a signed record must name its author")
        return cls(
            **{name: doc[name] for name in RECORD_FIELDS}, author=author, signature=signature
        )

    @classmethod
    def from_canonical(cls, data: bytes) -> Record:
        """Parse leaf data; raises :class:`RecordError` unless the bytes are canonical."""
        doc = _decode(data)
        if not isinstance(doc, dict):
            raise RecordError("record is not a JSON object")
        record = cls.from_json(doc)
        if record.canonical() != data:
            raise RecordError("record bytes are not in RFC 8785 canonical form")
        return record


def _signature_member(value: Any) -> dict[str, str]:
    """The ``signature`` member: exactly a key id and a hex signature value."""
    if not isinstance(value, Mapping) or set(value) != {"kid", "value"}:
        raise RecordError('record field \'signature\' must be {"kid": ..., "value": <hex>}')
    kid, hexed = value["kid"], value["value"]
    if not isinstance(kid, str) or not kid or not isinstance(hexed, str):
        raise RecordError("the record's signature needs a key id and a hex value")
    try:
        bytes.fromhex(hexed)
    except ValueError:
        raise RecordError("the record's signature value is not hex") from None
    return {"kid": kid, "value": hexed}


#: Deepest nesting of a record's JSON; records a connector writes are three levels deep, and the
#: canonical form is computed recursively, so a peer's record must not be much deeper.
MAX_RECORD_DEPTH = 32


def _decode(data: bytes) -> Any:
    """A record's JSON from a peer or an auditor's file: orjson (no C-stack recursion, no NaN or
    numbers beyond a double) and a depth bound checked without recursion."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"record is not JSON: {exc}") from None
    stack: list[tuple[Any, int]] = [(doc, 1)] if isinstance(doc, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > MAX_RECORD_DEPTH:
            raise RecordError(f"record nests deeper than {MAX_RECORD_DEPTH} levels")
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return doc


def _plain(value: Any) -> bool:
    """True when JSON of ``value`` is the same under Python's sort and RFC 8785 §3.2.3's sort.

    That holds for strings, safe integers (§3.2.2.3), booleans and null under ASCII keys."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE < value < _SAFE
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not key.isascii():
                return False
            if type(item) is not str and not _plain(item):  # strings: no call needed
                return False
        return True
    if kind is list or kind is tuple:
        for item in value:
            if type(item) is not str and not _plain(item):
                return False
        return True
    return False


_SAFE = 2**53
#: sorted keys, no whitespace, minimal escapes (one encoder: json.dumps builds one per call)
_PLAIN_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonicalize(doc: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON.

    Documents made of strings, safe integers, booleans and null under ASCII keys serialize
    identically with the standard library (sorted keys, no whitespace, minimal escapes); that
    fast path is property-tested against the ``rfc8785`` package, which handles everything else.
    """
    try:
        if _plain(doc):
            return _PLAIN_JSON.encode(doc).encode()
        return rfc8785.dumps(doc)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise RecordError(f"record cannot be canonicalized: {exc}") from exc
