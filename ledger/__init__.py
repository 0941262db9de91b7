"""Agora ledger: a verifiable provenance log (RFC 9162 Merkle tree) with signed tree heads,
countersigned receipts, durable group-committed storage, EVM anchoring and audits.

A library: it knows nothing of ODRL, DSP or HTTP servers. See ``api.py`` for the documents a
connector serves and ``client.py`` for the auditor's side.
"""

from .audit import AuditReport, Discrepancy, Finding, audit_ledger
from .errors import (
    AnchorError,
    AuditClientError,
    LedgerError,
    ProofError,
    RecordError,
    SignatureError,
    StoreError,
)
from .log import Appended, Ledger
from .receipts import Receipt, countersign, countersign_all, make_receipt, receipt_problems
from .records import Record, canonicalize, sha256_hex
from .signing import CallableSigner, KeySigner, Signer, verify_signature
from .statements import Authorship, attribute, sign_statement, verify_statement
from .store import LedgerStore, create_schema, drop_schema, make_tables, sqlite_engine
from .treehead import TreeHead, sign_tree_head

__all__ = [
    "AnchorError",
    "Appended",
    "AuditClientError",
    "AuditReport",
    "Authorship",
    "CallableSigner",
    "Discrepancy",
    "Finding",
    "KeySigner",
    "Ledger",
    "LedgerError",
    "LedgerStore",
    "ProofError",
    "Receipt",
    "Record",
    "RecordError",
    "SignatureError",
    "Signer",
    "StoreError",
    "TreeHead",
    "attribute",
    "audit_ledger",
    "canonicalize",
    "countersign",
    "countersign_all",
    "create_schema",
    "drop_schema",
    "make_receipt",
    "make_tables",
    "receipt_problems",
    "sha256_hex",
    "sign_statement",
    "sign_tree_head",
    "sqlite_engine",
    "verify_signature",
    "verify_statement",
]
