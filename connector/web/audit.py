"""The auditor's page in the console: audit a connector's log and read the report as tables.

It runs the same checks as ``agora audit verify`` (:mod:`connector.audit.checks`): the signed
head, every record re-hashed, sampled inclusion proofs, and the anchors. Credentials are this
connector's own DCP tokens (its AuditorCredential), or the audited connector's admin key when
its operator audits itself. The timeline is a table of records and anchors, with filters.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from connector.audit.access import AUDITOR_SCOPES, Access
from connector.audit.checks import AuditFailure, verify
from connector.http.context import CTX
from connector.web.console import render
from connector.web.guard import FORM, form, page

SHOWN = ("all", "record", "anchor")


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _access(request: web.Request, key: str) -> Access:
    if key:
        return Access(admin_key=key)
    trust = request.app[CTX].components.get("trust")
    if trust is None:
        return Access()
    from identity import type_scope

    scopes = [type_scope(s) for s in AUDITOR_SCOPES]

    async def mint(audience: str) -> str:
        return str(await trust.token_for(audience, scopes))

    return Access(minter=mint)


def _view(outcome: Any, shown: str, contains: str) -> dict[str, Any]:
    report = outcome.report
    rows = [
        {"when": _when(e.time_ms), "category": e.category, "label": e.label, "index": e.index}
        for e in report.timeline
        if (shown == "all" or e.category == shown) and contains.lower() in e.label.lower()
    ]
    head = report.head
    return {
        "ok": report.ok,
        "subject": report.subject,
        "head": None
        if head is None
        else {"size": head.size, "root": head.root.hex(), "when": _when(head.timestamp)},
        "checks": list(dict.fromkeys(report.checks)),
        "records_checked": report.records_checked,
        "discrepancies": [d.to_json() for d in report.discrepancies],
        "notes": outcome.notes,
        "rows": rows,
        "total": len(report.timeline),
    }


@page("viewer")
async def audit_page(request: web.Request) -> web.Response:
    return render(
        request, "console/audit.html", values={"shown": "all"}, errors={}, report=None, shown=SHOWN
    )


@form("viewer")
async def run_audit(request: web.Request) -> web.Response:
    """Reading another log changes nothing here, so a viewer may run it."""
    fields = request[FORM]
    url = fields.get("url", "").strip().rstrip("/")
    shown = fields.get("shown", "all")
    errors: dict[str, str] = {}
    split = urlsplit(url)
    if split.scheme not in ("http", "https") or not split.hostname or len(url) > 500:
        errors["url"] = "bad_url"
    if shown not in SHOWN:
        errors["shown"] = "bad_choice"
    report = None
    if not errors:
        try:
            outcome = await verify(url, _access(request, fields.get("key", "").strip()))
            report = _view(outcome, shown, fields.get("contains", "")[:100])
        except AuditFailure as exc:
            errors["form"] = str(exc)
    return render(
        request,
        "console/audit.html",
        status=400 if errors.keys() - {"form"} else (502 if errors else 200),
        values={k: v for k, v in fields.items() if k != "key"},
        errors=errors,
        report=report,
        shown=SHOWN,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/audit", audit_page)
    app.router.add_post("/console/audit", run_audit)
