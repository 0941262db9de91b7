"""The demo's audit step: the regional audit office checks the city's and the company's logs.

It runs what ``agora audit verify/agreement --via`` runs, in-process: its own connector mints a
fresh DCP token for every request. Then it shows that a lie is caught, honestly: it alters one
byte of a record in its own copy of the city's log and runs the same library audit on that copy
(the real log stays untouched).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.audit import checks
from connector.audit.access import Access
from connector.audit.output import summary_lines, write_html
from ledger.audit import Finding, compare_parties, verify_log

if TYPE_CHECKING:
    from connector.demo.space import DataSpace


class AuditStepFailed(Exception):
    """The audit saw something other than honest logs (or missed the planted lie)."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise AuditStepFailed(message)


async def _settled(space: DataSpace) -> None:
    """Receipts travel in the background; let them arrive before the audit reads the logs."""
    for _ in range(2):
        for key in ("city", "company"):
            ctx = space[key].connector.ctx
            assert ctx is not None
            exchange: Any = ctx.components["provenance"].exchange
            _expect(await exchange.settled(30.0), f"{key}'s receipts are still in flight")


async def auditor_audits_both_ledgers(space: DataSpace) -> list[str]:
    city, company, auditor = space["city"], space["company"], space["auditor"]
    status, agreements = await space.admin("company", "GET", "/api/v1/agreements")
    _expect(status == 200, f"agreements: {status}")
    mine = [a for a in agreements if a["providerId"] == city.did]
    _expect(bool(mine), "the company holds no agreement with the city")
    agreement_id = mine[-1]["id"]
    await _settled(space)

    access = Access(via_url=auditor.url, via_key=auditor.admin_key)
    lines = ["the auditor's connector mints a fresh DCP token (AuditorCredential) per request"]
    for member in (city, company):
        outcome = await checks.verify(member.url, access)
        _expect(outcome.report.ok, "\n".join(summary_lines(outcome)))
        head = outcome.report.head
        assert head is not None
        lines.append(
            f"{member.name}: {outcome.report.records_checked} records verified against its "
            f"signed head (size {head.size}), inclusion proofs checked"
        )
    outcome = await checks.agreement(city.url, company.url, agreement_id, access)
    _expect(outcome.report.ok, "\n".join(summary_lines(outcome)))
    lines.append(
        f"agreement {agreement_id}: both logs hold the same {outcome.report.records_checked // 2} "
        "records, each with the company's countersigned receipt"
    )
    page = space.report_dir / "audit-report.html"
    write_html(page, outcome)
    lines.append(f"HTML report with the timeline: {page}")
    lines += await _tampering_is_caught(
        city.url, company.url, agreement_id, access, space.report_dir / "audit-report-tampered.html"
    )
    return lines


async def _tampering_is_caught(
    city_url: str, company_url: str, agreement_id: str, access: Access, page: Path
) -> list[str]:
    async with checks.opened(city_url, access) as city:
        head = await city.client.tree_head()
        key = city.party.key(head.kid)
        entries = await city.client.entries(head.size)
        theirs = await city.client.records_for_agreement(agreement_id)
    async with checks.opened(company_url, access) as company:
        company_head = await company.client.tree_head()
        company_key = company.party.key(company_head.kid)
        mirrored = await company.client.records_for_agreement(agreement_id)
        receipts = await company.client.receipts(agreement_id)
    victim = theirs[-1]
    forged = victim.data.replace(b'"decision":"', b'"decision":"x', 1)
    copy = [replace(e, data=forged) if e.index == victim.index else e for e in entries]
    report = verify_log(copy, head, key)
    _expect(Finding.TAMPERED_RECORD in report.kinds(), "the altered copy was not caught")
    altered = [replace(e, data=forged) if e.index == victim.index else e for e in theirs]
    crossed = compare_parties(agreement_id, altered, mirrored, receipts, key, company_key)
    _expect(not crossed.ok, "the company's log did not expose the altered record")
    named = ", ".join(sorted({str(k) for k in crossed.kinds()}))
    report.merge(crossed)
    report.subject = f"a tampered copy of the city's log (agreement {agreement_id})"
    write_html(page, checks.Outcome(report))
    return [
        f"a copy of the city's log with one byte changed in record {victim.index}: "
        f"{report.discrepancies[0].kind} — {report.discrepancies[0].detail}",
        f"and against the company's log and receipts: {named}",
        f"HTML report of the tampered case: {page}",
    ]
