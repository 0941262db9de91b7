"""Whose evidence a record is: the author of each record and the signature of a statement.

A log holds two sorts of record. Its owner's own records are attested by the owner's signed tree
head. A *statement* is a record written by someone else (the counter-party of an agreement hands
over what it logged): it names that author and carries the author's signature over the record
without the signature, so an auditor can tell it apart from the owner's evidence and check who
said it, and the owner can neither forge a statement nor pass one off as its own.

The signature covers ``STATEMENT_CONTEXT`` followed by the RFC 8785 canonical JSON of the record
without its ``signature`` member; the prefix keeps it from ever being valid as a tree head or
receipt signature (whose messages are bare canonical JSON).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import RecordError, SignatureError
from .records import Record
from .signing import PublicKey, Signer, verify_signature

STATEMENT_CONTEXT = b"agora-ledger-statement-v1\n"

#: the author of a record logged before authors were recorded
UNATTRIBUTED = ""


def statement_message(record: Record) -> bytes:
    """The bytes the author's signature covers."""
    if not record.author:
        raise RecordError("a statement must name its author")
    return STATEMENT_CONTEXT + record.unsigned().canonical()


def sign_statement(record: Record, signer: Signer) -> Record:
    """``record`` signed by its author (``signer`` holds one of the author's keys)."""
    signature = signer.sign(statement_message(record))
    return Record(
        record.provider,
        record.consumer,
        record.agreement_id,
        record.action,
        record.decision,
        record.request_hash,
        record.response_hash,
        record.time,
        record.kind,
        record.details,
        record.author,
        {"kid": signer.kid, "value": signature.hex()},
    )


def statement_kid(record: Record) -> str:
    """The key id the statement is signed with; raises :class:`SignatureError` if unsigned or
    if the key is not one of the author's (a DID URL of the author's DID)."""
    if record.signature is None:
        raise SignatureError(f"the statement by {record.author or 'nobody'} is not signed")
    kid = record.signature["kid"]
    if kid.split("#", 1)[0] != record.author:
        raise SignatureError(f"the statement is signed with {kid}, not a key of {record.author}")
    return kid


def verify_statement(record: Record, public_key: PublicKey) -> None:
    """Raise :class:`SignatureError` unless ``public_key`` (the key :func:`statement_kid`
    names, from the author's DID document) signed the record."""
    statement_kid(record)
    assert record.signature is not None
    try:
        value = bytes.fromhex(record.signature["value"])
    except ValueError:
        raise SignatureError("the statement's signature is not hex") from None
    if not verify_signature(public_key, statement_message(record), value):
        raise SignatureError(
            f"the statement's signature does not verify with {record.signature['kid']}"
        )


@dataclass
class Authorship:
    """Who wrote the records of one log, as an auditor reports it: the owner's own records,
    the statements of each other author, and records that name no author (logged before authors
    were recorded, so they cannot be told apart)."""

    owner: str
    own: list[int] = field(default_factory=list)
    statements: dict[str, list[int]] = field(default_factory=dict)
    unattributed: list[int] = field(default_factory=list)
    #: statements carrying their author's signature, checked and valid
    signed: list[int] = field(default_factory=list)
    #: statements without a signature (a provider's: its receipts attest them instead)
    unsigned: list[int] = field(default_factory=list)
    #: statements whose signature is invalid or could not be checked, with the reason
    unverified: dict[int, str] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """Plain lines for people: whose evidence the log holds."""
        lines = [f"{len(self.own)} records by the log's owner {self.owner} (its own evidence)"]
        for author, indices in sorted(self.statements.items()):
            lines.append(
                f"{len(indices)} statements by {author} (that party's word, not the owner's)"
            )
        if self.unattributed:
            lines.append(
                f"{len(self.unattributed)} records name no author (logged before authors were "
                "recorded): they cannot be told apart"
            )
        return lines

    def to_json(self) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "own_records": len(self.own),
            "statements": {a: len(i) for a, i in sorted(self.statements.items())},
            "statement_indices": {a: i[:1000] for a, i in sorted(self.statements.items())},
            "signed_statements": len(self.signed),
            "unsigned_statements": self.unsigned[:1000],
            "unattributed_records": len(self.unattributed),
            "unverified_statements": {str(i): why for i, why in sorted(self.unverified.items())},
        }


def attribute(
    entries: Iterable[tuple[int, bytes]],
    owner: str,
    key_of: Callable[[str], PublicKey | None] | None = None,
) -> Authorship:
    """Sort a log's records ``(index, data)`` by author; with ``key_of`` (a key id → the
    author's public key, None when it cannot be had), check every statement's signature."""
    out = Authorship(owner)
    for index, data in entries:
        try:
            record = Record.from_canonical(data)
        except RecordError:
            out.unattributed.append(index)  # named by the canonical-form check
            continue
        if record.author == UNATTRIBUTED:
            out.unattributed.append(index)
        elif record.author == owner:
            out.own.append(index)
        else:
            out.statements.setdefault(record.author, []).append(index)
            if record.signature is None:
                out.unsigned.append(index)
            elif key_of is not None:
                problem = statement_problem(record, key_of)
                if problem is None:
                    out.signed.append(index)
                else:
                    out.unverified[index] = problem
    return out


def statement_problem(record: Record, key_of: Callable[[str], PublicKey | None]) -> str | None:
    """Why ``record`` is not a valid statement of its author (None when it is)."""
    try:
        kid = statement_kid(record)
        key = key_of(kid)
        if key is None:
            return f"the key {kid} of {record.author} cannot be had"
        verify_statement(record, key)
    except (SignatureError, RecordError) as exc:
        return exc.reason
    return None


def keys_by_kid(keys: Mapping[str, PublicKey]) -> Callable[[str], PublicKey | None]:
    """A ``key_of`` over a fixed map of key ids."""
    return keys.get
