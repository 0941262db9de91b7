"""Provenance of data-plane access, and the per-access duties the provider performs.

Every request of an authenticated consumer becomes one ledger record (kind ``access``): who
(provider, consumer DIDs), under which agreement, which action, the decision, a hash of the
request (method, path, query, body) and of the response summary (status, entity ids), and
details (operation, narrowed scope, reason, duties). Permitted data is answered only after its
record is durable: :meth:`Evidence.record` awaits the ledger's append, whose group commit keeps
throughput up under concurrency. Refusals are recorded before the 403 goes out.

Unauthenticated attempts (bad, expired, foreign tokens: 401) are logged, not put in the ledger:
they name no agreement, and recording them would let anyone grow another party's audit log.

Duties done here: ``inform`` — each access is logged (``agora.enforcement.inform``) and marked in
the record; ``attribute`` — permitted answers carry ``Link: <target>; rel="license"`` and an
``Agora-Attribution`` header naming the provider and agreement. ``compensate`` is left to the
marketplace and shown as pending with its amount.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

from aiohttp import web

from connector.http.context import TaskGroup
from ledger.records import Record

if TYPE_CHECKING:
    from connector.enforcement.access import Access

ATTRIBUTION_HEADER = "Agora-Attribution"
inform_log = logging.getLogger("agora.enforcement.inform")


def request_hash(method: str, path_qs: str, body: bytes) -> str:
    """sha256 over method, path+query and body, each separated by a NUL byte."""
    h = hashlib.sha256(method.encode())
    h.update(b"\0")
    h.update(path_qs.encode())
    h.update(b"\0")
    h.update(body)
    return h.hexdigest()


def summary_hash(summary: dict[str, Any]) -> str:
    """sha256 of the summary's JSON with sorted keys and no whitespace."""
    return hashlib.sha256(_SUMMARY_JSON.encode(summary).encode()).hexdigest()


# one encoder for every record (json.dumps with options builds one per call)
_SUMMARY_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


class Evidence:
    """Writes access records to the provenance ledger and performs per-access duties."""

    def __init__(
        self,
        provider_did: str,
        provider_name: str,
        provenance: Any,
        *,
        durable: bool = True,
        background: TaskGroup | None = None,
    ) -> None:
        self.provider_did = provider_did
        self.provider_name = provider_name
        self.provenance = provenance  # connector.provenance.component.Provenance
        self.durable = durable or background is None
        self.background = background

    def duty_details(self, access: Access) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in access.pending_duties:
            duty = access.agreement.duties.get(key)
            if duty is None:
                continue
            if duty.action == "compensate":
                state = "pending: settled by the marketplace"
            elif duty.action == "inform":
                state = "fulfilled: this access was logged for the provider"
            elif duty.action == "attribute":
                state = "fulfilled: attribution sent with the response"
            elif duty.action == "delete":
                state = "owed by the consumer's connector"
            else:
                state = "pending"
            out[key] = {"action": duty.action, "text": duty.text, "state": state}
            if duty.parameters:
                out[key]["parameters"] = duty.parameters
        return out

    async def record(self, request: web.Request, access: Access, summary: dict[str, Any]) -> None:
        """Append the access record (once per request); returns when it is durable."""
        if access.recorded:
            return
        body = await request.read() if request.body_exists else b""
        await self.write(access, request_hash(request.method, request.path_qs, body), summary)

    async def write(self, access: Access, req_hash: str, summary: dict[str, Any]) -> None:
        """Append the record of ``access`` (once) with the given request hash."""
        if access.recorded:
            return
        access.recorded = True
        scope = access.scope
        details: dict[str, Any] = {
            "operation": access.operation,
            "transferId": access.grant.transfer_id,
            "status": int(summary.get("status", 200)),
        }
        if access.reason:
            details["reason"] = access.reason
        if "ids" in summary:
            details["entities"] = len(summary["ids"])
        if "bytes" in summary:  # a plain HTTP source: the size of what was served
            details["bytes"] = int(summary["bytes"])
        if scope is not None:
            if scope.entity_types is not None:
                details["entityTypes"] = sorted(scope.entity_types)
            if scope.attributes is not None:
                details["attributes"] = sorted(scope.attributes)
            if scope.area is not None:
                details["area"] = True
        duties = self.duty_details(access) if access.decision == "permit" else {}
        if duties:
            details["duties"] = duties
            if any(d["action"] == "inform" for d in duties.values()):
                inform_log.info(
                    "data access",
                    extra={
                        "agreement_id": access.grant.agreement_id,
                        "consumer": access.grant.consumer_did,
                        "operation": access.operation,
                        "status": details["status"],
                    },
                )
        record = Record(
            kind="access",
            provider=self.provider_did,
            consumer=access.grant.consumer_did,
            agreement_id=access.grant.agreement_id,
            action=access.action,
            decision=access.decision,
            request_hash=req_hash,
            response_hash=summary_hash(summary),
            details=details,
            author=self.provider_did,  # ours: Provenance.record need not copy it to say so
        )
        if self.durable:
            await self.provenance.record(record)
        else:  # queued for the ledger's next group commit; see enforcement.settings
            assert self.background is not None
            self.background.spawn(self.provenance.record(record), name="access-record")

    def attribution(self, access: Access) -> dict[str, str]:
        """Headers the ``attribute`` duty asks for (empty when the agreement has none)."""
        for key in access.pending_duties:
            duty = access.agreement.duties.get(key)
            if duty is not None and duty.action == "attribute":
                credited = duty.parameters.get("target") or access.agreement.target
                return {
                    "Link": f'<{credited}>; rel="license"',
                    ATTRIBUTION_HEADER: (
                        f"{self.provider_name} ({self.provider_did}); "
                        f"agreement {access.grant.agreement_id}"
                    ),
                }
        return {}


async def on_response_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Attribution on permitted answers; a record for requests that failed after the permit
    (e.g. 404 for an entity outside the scope), so no authenticated access goes unrecorded."""
    from connector.enforcement.access import ACCESS_KEY
    from connector.enforcement.ratelimit import headers as ratelimit_headers
    from connector.http.context import CTX

    access = request.get(ACCESS_KEY)
    if access is None:
        return
    pep = request.app[CTX].components.get("ngsild.pep")
    evidence: Evidence | None = getattr(pep, "evidence", None)
    if pep is None or evidence is None:
        return
    if access.confirming is not None:  # the handler did not reach after(): settle here
        try:
            await pep.settle(request, access)
        except Exception:
            if response.status < 400:
                raise  # never send data the confirmation refused: the connection is dropped
            # the answer is an error already; settle() recorded the refusal
    if access.decision == "permit" and response.status < 400:
        for name, value in evidence.attribution(access).items():
            response.headers.add(name, value)
    for name, value in ratelimit_headers(access.quotas).items():
        response.headers[name] = value  # on refusals too: "0 left, resets in t seconds"
    if not access.recorded:
        try:
            await evidence.record(request, access, {"status": response.status})
        except Exception:  # the answer is an error already; never turn it into a crash
            logging.getLogger("agora.enforcement").exception("could not record an access")
