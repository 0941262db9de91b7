"""``POST /api/v1/policies/conflicts``: check policies for contradictions before publishing.

A city composing an offer from templates sends the candidate policies (inline ODRL, and/or the ids
of policies it stored with ``POST /policies``) and gets the analysis of
:func:`policies.conflicts.analyze` with its plain-language explanation. Nothing is stored.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from connector.dsp.tables import policies as stored_policies
from connector.http.context import CTX
from connector.http.problems import Problem, read_json
from connector.http.routes import Route, View
from policies import ConflictStrategy, analyze, explain_conflicts, parse_policy
from policies.errors import PoliciesError
from policies.model import Policy

#: at most this many policies per check (the analysis enumerates their joint states)
MAX_POLICIES = 20
_KEYS = {"policies", "policyIds", "strategy", "target"}


def _bad(detail: str) -> Problem:
    return Problem(400, "Bad Request", detail=detail)


def _inline(doc: Any, i: int) -> Policy:
    if not isinstance(doc, dict):
        raise _bad(f"/policies/{i}: a policy must be a JSON object")
    try:
        return parse_policy(doc)
    except PoliciesError as exc:
        raise _bad(f"/policies/{i}: not a valid ODRL policy: {exc}") from None


async def _stored(request: web.Request, ids: list[Any], target: str | None) -> list[Policy]:
    if not all(isinstance(i, str) and i for i in ids):
        raise _bad("/policyIds: a list of policy ids (strings) is expected")
    ctx = request.app[CTX]
    async with ctx.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(stored_policies.c.id, stored_policies.c.policy).where(
                    stored_policies.c.id.in_(ids)
                )
            )
        ).all()
    found = {r.id: json.loads(r.policy) for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Problem(404, "Not Found", detail=f"/policyIds: no such policy {missing[0]}")
    out = []
    for pid in ids:
        doc = {"@id": pid, "@type": "Offer", **found[pid]}
        if target is not None:
            doc.setdefault("target", target)
        try:
            out.append(parse_policy(doc))
        except PoliciesError as exc:
            raise _bad(f"/policyIds: policy {pid} cannot be analysed: {exc}") from None
    return out


async def check_conflicts(request: web.Request) -> web.Response:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise _bad("a JSON object with 'policies' and/or 'policyIds' is expected")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise _bad(f"/{unknown[0]}: unknown member (expected {', '.join(sorted(_KEYS))})")
    inline = body.get("policies", [])
    ids = body.get("policyIds", [])
    target = body.get("target")
    if not isinstance(inline, list) or not isinstance(ids, list):
        raise _bad("'policies' and 'policyIds' must be lists")
    if target is not None and not isinstance(target, str):
        raise _bad("/target: an IRI string is expected")
    if not inline and not ids:
        raise _bad("give at least one policy in 'policies' or 'policyIds'")
    if len(inline) + len(ids) > MAX_POLICIES:
        raise _bad(f"at most {MAX_POLICIES} policies per check")
    strategy = body.get("strategy")
    if strategy is not None and (
        not isinstance(strategy, str) or strategy not in {s.value for s in ConflictStrategy}
    ):
        raise _bad("/strategy: one of perm, prohibit, invalid is expected")
    policies = [_inline(doc, i) for i, doc in enumerate(inline)]
    policies += await _stored(request, ids, target)
    # up to about a second of CPU (policies.conflicts.MAX_STATES): off the event loop
    report = await asyncio.to_thread(analyze, policies, strategy)
    return web.json_response({**report.to_dict(), "explanation": explain_conflicts(report)})


class ConflictCheckIn(BaseModel):
    """What to check (the handler validates it itself, naming the member at fault)."""

    model_config = ConfigDict(extra="forbid")

    policies: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_POLICIES, description="inline ODRL policies"
    )
    policyIds: list[str] = Field(
        default_factory=list, max_length=MAX_POLICIES, description="ids of stored policies"
    )
    strategy: Literal["perm", "prohibit", "invalid"] | None = Field(
        default=None, description="ODRL conflict strategy (default: the policies' own)"
    )
    target: str | None = Field(default=None, description="target IRI for stored policies")


class Witness(View):
    status: str
    permission: str
    prohibitions: list[str]
    action: str
    region: str = Field(description="where both sides' conditions meet, in plain words")
    example: dict[str, Any]
    counterexample: dict[str, Any] | None
    note: str


class ConflictReportView(View):
    status: Literal["Conflict", "No conflict", "Ambiguous", "Undecided"]
    strategy: str
    outcome: str
    notes: list[str]
    witnesses: list[Witness]
    explanation: str = Field(description="the analysis in plain language")


ROUTES = [
    Route(
        "POST",
        "/policies/conflicts",
        check_conflicts,
        "Check policies for contradictions before publishing (nothing is stored)",
        request=ConflictCheckIn,
        response=ConflictReportView,
        tags=("policies",),
        example={
            "policies": [
                {
                    "@context": "http://www.w3.org/ns/odrl.jsonld",
                    "@type": "Set",
                    "uid": "urn:policy:open",
                    "permission": [{"action": "read", "target": "urn:dataset:air"}],
                },
                {
                    "@context": "http://www.w3.org/ns/odrl.jsonld",
                    "@type": "Set",
                    "uid": "urn:policy:closed",
                    "prohibition": [{"action": "read", "target": "urn:dataset:air"}],
                },
            ]
        },
    )
]
