"""The consumer's endpoint data references: the current endpoint and token of each transfer,
refreshed before they expire, so the consumer's applications never re-implement refresh.

A provider's TransferStartMessage carries a DataAddress: ``endpoint`` and the endpoint
properties ``authorization`` (the token), ``authType``, ``expiresIn`` (seconds) and, when the
token can be renewed, ``refreshEndpoint``. The consumer keeps it with the transfer
(``data_address``, ``edr_expires_at``) and renews it through ``refreshEndpoint`` once less than a
fifth of its lifetime is left (at least :data:`MIN_MARGIN_S`): in the background, and on demand
when an application asks for it (``GET /api/v1/transfers/{id}/edr``). Two ways of renewing are
understood:

* with a ``refreshToken`` property (the OAuth 2.0 refresh flow of EDC-based providers): a form
  POST ``grant_type=refresh_token`` with the current token as bearer, answered with
  ``access_token`` / ``expires_in`` (and maybe a new ``refresh_token``);
* without one (Agora's providers): a POST with our DCP token, answered with a new DataAddress.

The refresh endpoint must be on an allowed callback host, as every address a peer gives us.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from yarl import URL

from connector.dsp import messages as m
from connector.dsp import process
from connector.dsp import views as v
from connector.dsp.callbacks import CallbackRefused, check_callback
from connector.dsp.negotiation_states import Role
from connector.dsp.outbox import ANSWER_MAX_BYTES
from connector.dsp.runtime import DSP_KEY, Dsp, now
from connector.dsp.tables import agreements, transfers
from connector.dsp.transfer_states import TState
from connector.http import routes, safe_json
from connector.http.problems import Problem
from connector.http.routes import Route
from connector.outbound import OutboundError

MIN_MARGIN_S = 5.0
#: transfers whose token expires within this are looked at by the background pass
LOOKAHEAD_S = 3600.0


class RefreshFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def expires_at(address: dict[str, Any] | None, received: datetime) -> datetime | None:
    """When the token of ``address`` expires (None: it does not say)."""
    seconds = m.endpoint_properties(address).get("expiresIn")
    try:
        return received + timedelta(seconds=float(seconds)) if seconds else None
    except ValueError:
        return None


def _due(row: Any, at: datetime) -> bool:
    expiry = _utc(row.edr_expires_at)
    if expiry is None or not row.data_address:
        return False
    props = m.endpoint_properties(json.loads(row.data_address))
    if not props.get("refreshEndpoint"):
        return False
    try:
        lifetime = float(props.get("expiresIn", "0"))
    except ValueError:
        lifetime = 0.0
    margin = max(MIN_MARGIN_S, lifetime / 5)
    return expiry - timedelta(seconds=margin) <= at


def edr_view(row: Any) -> dict[str, Any]:
    address = json.loads(row.data_address) if row.data_address else {}
    props = m.endpoint_properties(address)
    expiry = _utc(row.edr_expires_at)
    return {
        "transferId": row.pid,
        "agreementId": row.agreement_id,
        "endpoint": address.get("endpoint"),
        "endpointType": address.get("endpointType"),
        "authorization": props.get("authorization"),
        "authType": props.get("authType", "bearer"),
        "expiresAt": expiry.isoformat() if expiry else None,
    }


class EdrCache:
    """Renews the consumer's tokens (one refresh at a time per transfer)."""

    def __init__(self, dsp: Dsp) -> None:
        self.dsp = dsp
        self._locks: dict[str, asyncio.Lock] = {}

    async def _row(self, pid: str) -> Any:
        async with self.dsp.ctx.db.connect() as conn:
            return (await conn.execute(select(transfers).where(transfers.c.pid == pid))).first()

    async def current(self, pid: str, force: bool = False) -> Any:
        """The transfer's row with a token that is not about to expire (renewed if needed)."""
        row = await self._row(pid)
        if row is None or row.role != Role.CONSUMER.value:
            raise Problem(404, "Not Found", detail="no transfer of ours as consumer")
        if row.state != TState.STARTED.value or not row.data_address:
            raise Problem(409, "Conflict", detail=f"the transfer is {row.state}: no data address")
        if force or _due(row, now()):
            lock = self._locks.setdefault(pid, asyncio.Lock())
            async with lock:
                row = await self._row(pid)
                if force or _due(row, now()):
                    try:
                        row = await self.refresh(row)
                    except RefreshFailed as exc:
                        raise Problem(502, "Bad Gateway", detail=exc.reason) from None
        return row

    async def refresh(self, row: Any) -> Any:
        """Renew the token of ``row`` through its refresh endpoint and store the result."""
        address = json.loads(row.data_address)
        props = m.endpoint_properties(address)
        url = props.get("refreshEndpoint")
        if not url:
            raise RefreshFailed("the provider gave no refreshEndpoint")
        try:
            check_callback(url, self.dsp.policy)
        except CallbackRefused as exc:
            raise RefreshFailed(f"refreshEndpoint: {exc}") from None
        received = now()
        try:
            if props.get("refreshToken"):
                fresh = await self._oauth_refresh(url, address, props)
            else:
                fresh = await self._dsp_refresh(url, row.counterparty_did)
        except OutboundError as exc:
            raise RefreshFailed(f"refreshing the token failed: {exc.detail}") from None
        except ValueError as exc:
            raise RefreshFailed(f"refreshing the token failed: {exc}") from None
        if not isinstance(fresh.get("endpoint"), str) or not m.endpoint_properties(fresh).get(
            "authorization"
        ):
            raise RefreshFailed("the refresh answer is not a data address with a token")
        async with self.dsp.transaction() as conn:
            current = await process.lock(conn, transfers, row.pid)
            if current is None or current.state != TState.STARTED.value:
                raise RefreshFailed("the transfer is no longer STARTED")
            return await process.set_fields(
                conn,
                transfers,
                "transfer",
                row.pid,
                data_address=json.dumps(fresh),
                edr_expires_at=expires_at(fresh, received),
            )

    async def _dsp_refresh(self, url: str, provider: str) -> dict[str, Any]:
        token = await self.dsp.issuer.token_for(provider)
        got = await self.dsp.ctx.peers().request(
            "POST", url, headers={"Authorization": f"Bearer {token}"}, max_bytes=ANSWER_MAX_BYTES
        )
        if got.status != 200:
            raise ValueError(f"{url} answered {got.status}")
        doc = safe_json.loads(got.body)
        if not isinstance(doc, dict):
            raise ValueError("the answer is not a JSON object")
        return doc

    async def _oauth_refresh(
        self, url: str, address: dict[str, Any], props: dict[str, str]
    ) -> dict[str, Any]:
        form = {"grant_type": "refresh_token", "refresh_token": props["refreshToken"]}
        headers = {"Authorization": f"Bearer {props.get('authorization', '')}"}
        got = await self.dsp.ctx.peers().request(
            "POST",
            url,
            data=urlencode(form).encode(),
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
            max_bytes=ANSWER_MAX_BYTES,
        )
        if got.status != 200:
            raise ValueError(f"{url} answered {got.status}")
        doc = safe_json.loads(got.body)
        if not isinstance(doc, dict) or not isinstance(doc.get("access_token"), str):
            raise ValueError("the answer has no access_token")
        props = {**props, "authorization": doc["access_token"]}
        if isinstance(doc.get("refresh_token"), str):
            props["refreshToken"] = doc["refresh_token"]
        if doc.get("expires_in") is not None:
            props["expiresIn"] = str(doc["expires_in"])
        return m.data_address(
            str(address.get("endpointType", "")), str(address.get("endpoint")), props
        )

    async def refresh_forever(self, interval: float) -> None:
        """Renew every token that is due, so one is always current when asked for."""
        while True:
            await asyncio.sleep(interval)
            try:
                async with self.dsp.ctx.db.connect() as conn:
                    rows = (
                        await conn.execute(
                            select(transfers).where(
                                transfers.c.role == Role.CONSUMER.value,
                                transfers.c.state == TState.STARTED.value,
                                transfers.c.edr_expires_at.is_not(None),
                                transfers.c.edr_expires_at < now() + timedelta(seconds=LOOKAHEAD_S),
                            )
                        )
                    ).all()
            except Exception as exc:  # keep renewing after a database hiccup
                self.dsp.ctx.log.warning("dsp: token refresh pass failed: %s", exc)
                continue
            for row in rows:
                if not _due(row, now()):
                    continue
                try:
                    await self.current(row.pid)
                except Problem as exc:
                    self.dsp.ctx.log.warning(
                        "dsp: token of transfer %s not renewed: %s", row.pid, exc.detail
                    )


def _cache(request: web.Request) -> EdrCache:
    found = request.app[DSP_KEY].edrs
    assert isinstance(found, EdrCache), "the DSP component sets the EDR cache"
    return found


async def get_edr(request: web.Request) -> web.Response:
    row = await _cache(request).current(request.match_info["pid"])
    return web.json_response(edr_view(row))


#: the most a pull through the management API passes on (larger answers are refused)
MAX_PULL_BYTES = 16 * 1024 * 1024


def authorization_header(props: dict[str, str]) -> str:
    """The header value for the token: ``Bearer <token>`` for ``authType`` bearer (Agora's and
    the DSP examples'), the token as given otherwise (EDC's public data plane)."""
    token = props.get("authorization", "")
    if props.get("authType", "bearer").lower() == "bearer":
        return f"Bearer {token}"
    return token


async def pull_data(request: web.Request) -> web.Response:
    """Consumer: GET the transfer's endpoint with its current token and pass the answer on
    (for applications that should not handle tokens at all). Query parameters are passed."""
    dsp: Dsp = request.app[DSP_KEY]
    row = await _cache(request).current(request.match_info["pid"])
    address = json.loads(row.data_address)
    try:
        url = URL(str(address.get("endpoint", "")))
        # the host is what is checked; an endpoint may carry its own query
        check_callback(str(url.with_query(None).with_fragment(None)), dsp.policy)
    except (CallbackRefused, ValueError) as exc:
        raise Problem(502, "Bad Gateway", detail=f"the data address: {exc}") from None
    if request.query:
        url = url.update_query(request.query)
    headers = {"Authorization": authorization_header(m.endpoint_properties(address))}
    try:  # the provider's word: the guarded client, no redirects, the answer bounded
        got = await dsp.ctx.peers().request(
            "GET", str(url), headers=headers, max_bytes=MAX_PULL_BYTES
        )
    except OutboundError as exc:
        raise Problem(502, "Bad Gateway", detail=f"the provider's endpoint: {exc.detail}") from None
    data, status = got.body, got.status
    content_type = next(iter(got.header_values("Content-Type")), None)
    out = web.Response(status=status, body=data)
    if content_type:
        out.headers["Content-Type"] = content_type
    await _keep_received(dsp, row, str(url), status, data, out)
    return out


async def _keep_received(
    dsp: Dsp, row: Any, source: str, status: int, data: bytes, out: web.Response
) -> None:
    """A JSON answer is kept as received under the agreement (the enforcement component's
    record of copies, which carries out a ``delete`` duty), as for NGSI-LD pulls."""
    enforcement = dsp.ctx.components.get("enforcement")
    if status != 200 or enforcement is None or getattr(enforcement, "received", None) is None:
        return
    try:
        payload = json.loads(data)
    except ValueError:
        return
    async with dsp.ctx.db.connect() as conn:
        terms = (
            await conn.execute(
                select(agreements.c.agreement).where(agreements.c.id == row.agreement_id)
            )
        ).scalar()
    if terms is None:
        return
    stored = await enforcement.received.store(
        agreement_id=row.agreement_id,
        transfer_id=row.pid,
        provider_did=row.counterparty_did,
        source=source,
        payload=payload,
        agreement=json.loads(terms),
    )
    out.headers["Agora-Received-Id"] = stored["id"]


async def refresh_edr(request: web.Request) -> web.Response:
    row = await _cache(request).current(request.match_info["pid"], force=True)
    return web.json_response(edr_view(row))


ROUTES = [
    Route(
        "GET",
        "/transfers/{pid}/edr",
        get_edr,
        "Consumer: the current endpoint and token",
        response=v.EdrView,
        errors=(409, 502),
    ),
    Route(
        "POST",
        "/transfers/{pid}/edr/refresh",
        refresh_edr,
        "Consumer: renew the token now",
        response=v.EdrView,
        errors=(409, 502),
    ),
    Route(
        "GET",
        "/transfers/{pid}/data",
        pull_data,
        "Consumer: pull through the current token",
        description="The provider's answer passed on as it came (status, Content-Type, body),"
        " with the query parameters given here; a JSON answer is kept as received data"
        " (its id in the Agora-Received-Id header).",
        media_type="*/*",
        errors=(409, 502),
    ),
]


def add_routes(app: web.Application) -> None:
    routes.add_routes(app, ROUTES)
