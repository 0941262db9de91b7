"""What an audit finds: the kinds of discrepancy, each discrepancy, and the report that
collects them with a timeline for the HTML rendering (``report.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .statements import Authorship
from .treehead import TreeHead


class Finding(StrEnum):
    BAD_SIGNATURE = "bad-signature"
    TAMPERED_RECORD = "tampered-record"
    NON_CANONICAL_RECORD = "non-canonical-record"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    ROOT_MISMATCH = "root-mismatch"
    FORKED = "forked"
    BAD_PROOF = "bad-proof"
    MISSING_RECORD = "missing-record"
    RECORD_MISMATCH = "record-mismatch"
    MISSING_COUNTERSIGNATURE = "missing-countersignature"
    BAD_RECEIPT = "bad-receipt"
    #: a record passed off as another party's statement: unsigned, badly signed, or by a stranger
    BAD_STATEMENT = "bad-statement"
    ANCHOR_MISMATCH = "anchor-mismatch"
    ANCHOR_MISSING = "anchor-missing"


@dataclass(frozen=True, slots=True)
class Discrepancy:
    kind: Finding
    detail: str
    index: int | None = None
    agreement_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "detail": self.detail,
            "index": self.index,
            "agreement_id": self.agreement_id,
        }


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """A point of the report's timeline: a record (``kind`` from the record) or an anchor."""

    time_ms: int
    category: str  # "record" or "anchor"
    label: str
    index: int | None = None


@dataclass
class AuditReport:
    subject: str
    checks: list[str] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)
    head: TreeHead | None = None
    records_checked: int = 0
    timeline: list[TimelineEvent] = field(default_factory=list)
    #: whose evidence each audited log holds (when the auditor knew the log's owner)
    authorship: list[Authorship] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    def kinds(self) -> set[Finding]:
        return {d.kind for d in self.discrepancies}

    def add(
        self, kind: Finding, detail: str, index: int | None = None, agreement: str | None = None
    ) -> None:
        self.discrepancies.append(Discrepancy(kind, detail, index, agreement))

    def merge(self, other: AuditReport) -> AuditReport:
        self.checks += other.checks
        self.discrepancies += other.discrepancies
        self.timeline += other.timeline
        self.authorship += other.authorship
        self.records_checked = max(self.records_checked, other.records_checked)
        self.head = self.head or other.head
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "ok": self.ok,
            "checks": self.checks,
            "records_checked": self.records_checked,
            "tree_head": None if self.head is None else self.head.to_json(),
            "discrepancies": [d.to_json() for d in self.discrepancies],
            "authorship": [a.to_json() for a in self.authorship],
        }
