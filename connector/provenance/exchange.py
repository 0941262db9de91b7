"""Receipts between the two connectors of an agreement, so that neither log can lie alone.

Every record logged under an agreement ends up, byte for byte, in both parties' logs, and the
consumer countersigns the provider's receipt for it:

- a record the **provider** logs: its connector issues a receipt (leaf hash, index, signed tree
  head, inclusion proof) and sends ``POST /ledger/v1/receipts`` with the record to the consumer's
  connector, which checks the receipt against the provider's key (from its DID document), appends
  the same canonical record to its own log, countersigns and keeps the receipt and returns it; the
  provider keeps the countersigned receipt too;
- a record the **consumer** logs: its connector sends it with ``POST /ledger/v1/records`` to the
  provider's connector, which appends it and then issues and delivers a receipt as above.

Both endpoints authenticate the calling connector with a DCP token (the DSP authentication seam).
Every record names its author; what the peer sends is stored as the peer's statement only after
:class:`~connector.provenance.statements.StatementChecker` has checked it against our own
agreements, processes and log (a consumer's records are signed by its DID key). A refused record
is never appended. Deliveries run in a background task with retries and backoff; the protocol
that logged the record never waits for them. What is still owed is derived from the database at
start (records under an agreement without a countersigned receipt), so a restart loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web

from connector.dsp.auth import AuthenticationFailed
from connector.http import safe_json
from connector.http.context import CTX, ConnectorContext
from connector.http.problems import Problem, read_json
from connector.outbound import OutboundError
from connector.provenance.kv import kv_get, kv_put
from connector.provenance.peers import AgreementParties, PeerError, Peers
from connector.provenance.statements import CONSUMER, PROVIDER, Refused, StatementChecker
from ledger.errors import LedgerError
from ledger.log import Ledger
from ledger.merkle import leaf_hash
from ledger.receipts import Receipt, accept_countersignatures, countersign_all, make_receipt
from ledger.records import Record
from ledger.signing import PublicKey
from ledger.treehead import TreeHead

WATERMARK_KEY = "ledger.receipts.settled"
RECEIPTS_PATH = "/ledger/v1/receipts"
RECORDS_PATH = "/ledger/v1/records"
MAX_BATCH = 200
MAX_ATTEMPTS = 12
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 30.0
REFUSAL_TITLES = {400: "Bad Request", 403: "Forbidden", 409: "Conflict"}


class NotServed(PeerError):
    """The peer answered 404: it has no such endpoint, so retrying cannot help."""


def owed_as_statement(record: Record, me: str) -> bool:
    """True when ``record`` (ours) goes to the agreement's provider as our statement: we are
    its consumer, so it must carry our signature."""
    return bool(record.agreement_id) and record.consumer == me and record.provider != me


@dataclass(frozen=True, slots=True)
class Owed:
    """A record of our log the peer has not yet acknowledged (receipt or copy)."""

    agreement_id: str
    index: int
    data: bytes
    role: str  # our role in the agreement
    attempts: int = 0
    recovered: bool = False  # found by the start-up pass (counts towards the watermark)


class ReceiptExchange:
    """Delivers receipts (as provider) and records (as consumer); answers the peer's calls."""

    def __init__(
        self,
        ctx: ConnectorContext,
        ledger: Ledger,
        peers: Peers,
        me: str,
        *,
        batch_seconds: float = 0.0,
    ) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.peers = peers
        self.me = me
        self._owed: list[Owed] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._keeping = asyncio.Lock()  # one check-then-insert of receipts at a time
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._inflight: set[asyncio.Task[None]] = set()
        self._busy: set[tuple[str, str]] = set()  # (peer, role) with a delivery in flight
        self._waiting: dict[tuple[str, str], list[Owed]] = {}  # owed to a busy (peer, role)
        self.batch_seconds = batch_seconds
        self.checker = StatementChecker(ctx.engine, peers, ledger, me)
        self._sleeping = 0
        self._recovered_open = 0  # start-up items not yet acknowledged
        self._recovered_end: int | None = None  # where the start-up pass stopped
        self._recovery_failed = False

    # -- what we owe -------------------------------------------------------------------------

    def start(self) -> None:
        self._idle.clear()  # until the recovery pass has run
        self._task = self.ctx.tasks.spawn(self._run(), name="ledger-receipts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._inflight):
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)

    def logged(self, record: Record, index: int, data: bytes) -> None:
        """Called after a record of ours is durable: owe it to the peer if it has one."""
        role = self._role(record)
        if role is None:
            return
        self._owe([Owed(record.agreement_id, index, data, role)])

    def _role(self, record: Record) -> str | None:
        """What we owe the peer for ``record``: receipts as the provider (for our records and
        the consumer's statements alike), our own records as the consumer. Records that name no
        author (logged before authors were recorded) are no longer exchanged: the peer could
        not tell whose they are."""
        if not record.agreement_id or record.provider == record.consumer or not record.author:
            return None
        if record.provider == self.me:
            return PROVIDER
        if record.consumer == self.me and record.author == self.me:
            return CONSUMER
        return None

    def _owe(self, items: Iterable[Owed]) -> None:
        self._owed.extend(items)
        self._idle.clear()
        self._wake.set()

    async def settled(self, within: float = 10.0) -> bool:
        """Wait until nothing is owed or in flight (tests and the demo use it)."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            return False
        return True

    def _watermarked(self) -> bool:
        """On SQLite one process owns the log, so a watermark can bound the start-up pass; on
        PostgreSQL replicas share it and each may still owe records below another's mark."""
        return self.ctx.engine.dialect.name == "sqlite"

    async def _recover(self) -> None:
        """Owe every record under an agreement that lacks a countersigned receipt, from the
        watermark on: records below it were all acknowledged before an earlier stop."""
        size = await self.ledger.sync()
        first = 0
        if self._watermarked():
            first = min(size, int(await kv_get(self.ctx.engine, WATERMARK_KEY) or 0))
        countersigned = {
            (r.agreement_id, r.leaf_hash)
            for r in await self.ledger.receipts()
            if r.countersignature is not None
        }
        owed: list[Owed] = []
        for start in range(first, size, 1000):
            for entry in await self.ledger.entries(start, min(size, start + 1000)):
                try:
                    record = Record.from_canonical(entry.data)
                except LedgerError:
                    continue
                role = self._role(record)
                if role is None or (record.agreement_id, entry.leaf_hash) in countersigned:
                    continue
                owed.append(Owed(record.agreement_id, entry.index, entry.data, role, 0, True))
        self._recovered_end, self._recovered_open = size, len(owed)
        await self._advance_watermark()
        if owed:
            self.ctx.log.info("ledger: %d records still owe a receipt", len(owed))
            self._owe(owed)

    async def _run(self) -> None:
        try:
            await self._recover()
        except Exception as exc:  # a damaged log must not stop the connector
            self.ctx.log.warning("ledger: receipt recovery failed: %s", exc)
        while True:
            self._check_idle()
            await self._wake.wait()
            self._wake.clear()
            items, self._owed = self._owed, []
            batches = await self._batches(items)
            for (peer, role, parties), owed in batches.items():
                if (peer, role) in self._busy:  # goes with the next delivery to this peer
                    self._waiting.setdefault((peer, role), []).extend(owed)
                    continue
                self._busy.add((peer, role))
                task = asyncio.create_task(self._deliver_all(parties, peer, role, owed))
                self._inflight.add(task)
                task.add_done_callback(self._done)

    async def _deliver_all(
        self, parties: AgreementParties, peer: str, role: str, owed: list[Owed]
    ) -> None:
        """One delivery at a time per peer and role, each gathering for ``batch_seconds`` what
        else becomes owed: under load a delivery carries many records, whose per-request
        costs (authentication, a signed tree head, two commits) are then shared."""
        key = (peer, role)
        try:
            while owed:
                if self.batch_seconds and len(owed) < MAX_BATCH:
                    await asyncio.sleep(self.batch_seconds)
                owed += self._waiting.pop(key, [])
                for start in range(0, len(owed), MAX_BATCH):
                    await self._deliver(parties, peer, role, owed[start : start + MAX_BATCH])
                owed = self._waiting.pop(key, [])
        finally:
            self._busy.discard(key)
            left = self._waiting.pop(key, [])
            if left:  # cancelled or failed mid-way: owed again (and found again at start)
                self._owe(left)

    def _check_idle(self) -> None:
        if not self._owed and not self._inflight and not self._sleeping:
            self._idle.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.ctx.log.error("ledger: delivery failed", exc_info=task.exception())
        self._check_idle()

    async def _batches(
        self, items: list[Owed]
    ) -> dict[tuple[str, str, AgreementParties], list[Owed]]:
        out: dict[tuple[str, str, AgreementParties], list[Owed]] = {}
        keys: dict[tuple[str, str], tuple[str, str, AgreementParties]] = {}  # by (peer, role)
        for item in items:
            parties = self.peers.known_parties(item.agreement_id)
            if parties is None:
                parties = await self.peers.parties(item.agreement_id)
            if parties is None:
                self._retry([item], f"agreement {item.agreement_id} is not stored here (yet)")
                continue
            peer = parties.peer_of(self.me)
            key = keys.get((peer, item.role))
            if key is None:
                key = keys[(peer, item.role)] = (peer, item.role, parties)
            out.setdefault(key, []).append(item)
        return out

    async def _acknowledged(self, items: Iterable[Owed]) -> None:
        self._recovered_open -= sum(1 for i in items if i.recovered)
        await self._advance_watermark()

    async def _advance_watermark(self) -> None:
        """Once everything the start-up pass found is acknowledged, the next start can begin
        where this one's pass ended (later records are delivered from memory meanwhile)."""
        end = self._recovered_end
        if end is None or self._recovered_open > 0 or self._recovery_failed:
            return
        self._recovered_end = None
        if self._watermarked():
            await kv_put(self.ctx.engine, WATERMARK_KEY, str(end))

    def _retry(self, items: list[Owed], why: str) -> None:
        again = [
            replace(i, attempts=i.attempts + 1) for i in items if i.attempts + 1 < MAX_ATTEMPTS
        ]
        if any(i.recovered for i in items if i.attempts + 1 >= MAX_ATTEMPTS):
            self._recovery_failed = True
        if len(again) < len(items):
            self.ctx.log.warning(
                "ledger: gave up delivering %d records (%s); retried at next start",
                len(items) - len(again),
                why,
            )
        if not again:
            return
        delay = min(MAX_DELAY_S, FIRST_DELAY_S * 2 ** again[0].attempts)
        self.ctx.log.info("ledger: delivery retried in %.1fs: %s", delay, why)
        self._idle.clear()
        self._sleeping += 1

        async def later() -> None:
            try:
                await asyncio.sleep(delay)
            finally:
                self._sleeping -= 1
            self._owe(again)

        self.ctx.tasks.spawn(later(), name="ledger-receipts-retry")

    async def _deliver(
        self, parties: AgreementParties, peer: str, role: str, items: list[Owed]
    ) -> None:
        try:
            if not await self.peers.exchanges_receipts(peer):
                # a peer that speaks only DSP: its records stay in our log alone
                await self._acknowledged(items)
                return
            if role == PROVIDER:
                await self._send_receipts(parties, peer, items)
            else:
                await self._send_records(parties, peer, items)
        except NotServed as exc:
            self._give_up(items, f"{peer}: {exc}")
        except (aiohttp.ClientError, TimeoutError, PeerError, LedgerError, ValueError) as exc:
            self._retry(items, f"{peer}: {exc}")

    def _give_up(self, items: list[Owed], why: str) -> None:
        """No retry: the peer has no such endpoint (404); found again at the next start."""
        if any(i.recovered for i in items):
            self._recovery_failed = True
        self.ctx.log.warning("ledger: %d records not exchanged (%s)", len(items), why)

    async def _post(self, url: str, peer: str, body: dict[str, Any]) -> tuple[int, Any]:
        dsp = self.ctx.components.get("dsp")
        if dsp is None:
            raise PeerError("no DSP component: cannot authenticate to the peer")
        token = await dsp.issuer.token_for(peer)
        # the peer's address is its word: the guarded client, a redirect is a failure
        try:
            got = await self.ctx.peers().request(
                "POST", url, json_body=body, headers={"Authorization": f"Bearer {token}"}
            )
        except OutboundError as exc:
            raise PeerError(f"{url}: {exc.detail}") from None
        try:
            return got.status, safe_json.loads(got.body) if got.body else None
        except ValueError:  # a peer's 404 page need not be JSON: the status decides
            return got.status, None

    async def _send_receipts(self, parties: AgreementParties, peer: str, items: list[Owed]) -> None:
        head = await self.ledger.tree_head()  # one signed head for the whole batch
        tree = self.ledger.tree
        proofs = tree.inclusion_proofs([i.index for i in items], head.size)
        issued = [
            make_receipt(tree.leaf(i.index), i.index, head, proof, i.agreement_id)
            for i, proof in zip(items, proofs, strict=True)
        ]
        body = {
            "tree_head": head.to_json(),
            "items": [
                {
                    "record": i.data.decode(),
                    "index": r.index,
                    "inclusion_proof": [h.hex() for h in r.inclusion_proof],
                }
                for i, r in zip(items, issued, strict=True)
            ],
        }
        base = await self.peers.base_url(parties, self.me)
        status, doc = await self._post(base + RECEIPTS_PATH, peer, body)
        if status == 404:
            raise NotServed(f"{RECEIPTS_PATH} answered 404")
        if status != 200 or not isinstance(doc, dict):
            raise PeerError(f"{RECEIPTS_PATH} answered {status}: {str(doc)[:200]}")
        results = doc.get("results")
        if not isinstance(results, list) or len(results) != len(items):
            raise PeerError("the peer's answer does not match the receipts sent")
        halves = [r if isinstance(r, dict) else {} for r in results]
        keys: dict[str, PublicKey] = {}  # the peer's keys by id, looked up once per delivery
        for half in halves:
            kid = half.get("countersigner_kid")
            if isinstance(kid, str) and half.get("countersignature") and kid not in keys:
                keys[kid] = await self.peers.key(peer, kid)
        refused: list[Owed] = []
        problems = []
        keep: list[Receipt] = []
        outcomes = accept_countersignatures(issued, halves, keys)
        for item, outcome, result in zip(items, outcomes, results, strict=True):
            if isinstance(outcome, Receipt):
                keep.append(outcome)
                continue
            refused.append(item)
            why = result.get("problem") if isinstance(result, dict) else result
            problems.append(f"record {item.index}: {why or outcome.reason}")
        await self._keep(keep)
        await self._acknowledged(i for i in items if i not in refused)
        if refused:  # e.g. the consumer has not stored the agreement yet: try again later
            self._retry(refused, f"{peer} refused receipts: " + "; ".join(problems[:3]))

    async def _send_records(self, parties: AgreementParties, peer: str, items: list[Owed]) -> None:
        body = {"records": [i.data.decode() for i in items]}
        base = await self.peers.base_url(parties, self.me)
        status, doc = await self._post(base + RECORDS_PATH, peer, body)
        if status == 404:
            raise NotServed(f"{RECORDS_PATH} answered 404")
        # 202: some were taken; a 4xx Problem with "results": every one was refused
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise PeerError(f"{RECORDS_PATH} answered {status}: {str(doc)[:200]}")
        if status != 202 and not 400 <= status < 500:
            raise PeerError(f"{RECORDS_PATH} answered {status}: {str(doc)[:200]}")
        refused = [
            (item, result["problem"])
            for item, result in zip(items, doc.get("results", []), strict=False)
            if isinstance(result, dict) and "problem" in result
        ]
        await self._acknowledged(i for i in items if all(i is not r for r, _ in refused))
        if refused:
            why = "; ".join(f"record {i.index}: {p}" for i, p in refused[:3])
            self._retry([i for i, _ in refused], f"{peer} refused records: {why}")

    # -- bookkeeping -------------------------------------------------------------------------

    async def _keep(self, receipts: list[Receipt]) -> None:
        """Keep one countersigned receipt per record, a batch in one transaction (a retried
        delivery is not kept twice: the database says which are held already)."""
        async with self._keeping:
            by_agreement: dict[str, list[Receipt]] = {}
            for receipt in receipts:
                by_agreement.setdefault(receipt.agreement_id, []).append(receipt)
            fresh: list[Receipt] = []
            for agreement_id, group in by_agreement.items():
                held = await self.ledger.store.countersigned(agreement_id, (r.index for r in group))
                for receipt in group:
                    if receipt.index not in held:
                        held.add(receipt.index)
                        fresh.append(receipt)
            if fresh:
                await self.ledger.keep_receipts(fresh)

    async def _append_all(self, records: list[tuple[str, bytes]]) -> list[int]:
        """Our index of each ``(agreement id, canonical record)``, appending those we do not
        hold yet (one indexed look-up per agreement); the new ones share one group commit."""
        async with self._lock:
            hashes: dict[str, list[bytes]] = {}
            leaves = [leaf_hash(data) for _, data in records]
            for (agreement_id, _), lh in zip(records, leaves, strict=True):
                hashes.setdefault(agreement_id, []).append(lh)
            held = {
                agreement_id: await self.ledger.store.indices_of(agreement_id, lhs)
                for agreement_id, lhs in hashes.items()
            }
            indices: list[int | None] = []
            new: dict[tuple[str, bytes], list[int]] = {}
            pairs = zip(records, leaves, strict=True)
            for position, ((agreement_id, data), lh) in enumerate(pairs):
                found = held[agreement_id].get(lh)
                indices.append(found)
                if found is None:
                    new.setdefault((agreement_id, data), []).append(position)
            keys = list(new)
            done = await self.ledger.append_data_many([(d, a) for a, d in keys])
            for key, appended in zip(keys, done, strict=True):
                for position in new[key]:
                    indices[position] = appended.index
            return [i for i in indices if i is not None]

    # -- the peer's calls --------------------------------------------------------------------

    async def _caller(self, request: web.Request) -> str:
        dsp = request.app[CTX].components.get("dsp")
        if dsp is None:
            raise Problem(503, "Service Unavailable", detail="DSP authentication is not running")
        try:
            caller = await dsp.authenticator.authenticate(request)
        except AuthenticationFailed as exc:
            raise Problem(
                401,
                "Unauthorized",
                detail=f"send a DCP token of the agreement's other party: {exc.reason}",
                headers={"WWW-Authenticate": 'Bearer realm="agora-ledger"'},
            ) from None
        return str(caller.did)

    async def _items(self, request: web.Request, key: str) -> tuple[dict[str, Any], list[Any]]:
        doc = await read_json(request)
        items = doc.get(key) if isinstance(doc, dict) else None
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
            raise Problem(
                400, "Bad Request", detail=f"'{key}' must be a list of 1 to {MAX_BATCH} items"
            )
        return doc, items

    async def receive_receipts(self, request: web.Request) -> web.Response:
        """Consumer side: check, log, countersign and keep the provider's receipts.

        The body is one signed tree head and the records with their index and inclusion proof;
        the answer gives, per record, our half of its receipt (countersignature and batch
        proof) or the problem. The batch is handled as one: the head's signature is checked
        once, the new records share one commit of our log and the receipts another."""
        caller = await self._caller(request)
        doc, items = await self._items(request, "items")
        results: list[dict[str, Any]] = [{} for _ in items]
        try:
            head = TreeHead.from_json(doc.get("tree_head"))  # type: ignore[arg-type]
            key = await self.peers.key(caller, head.kid)
        except (LedgerError, PeerError) as exc:
            problem = {"problem": f"the tree head: {exc.reason}"}
            return web.json_response({"results": [problem for _ in items]})
        checked: list[tuple[int, tuple[str, bytes], Receipt]] = []
        for position, item in enumerate(items):
            try:
                checked.append((position, *await self._receipt_item(item, caller, head)))
            except Refused as exc:
                results[position] = {"problem": exc.reason, "status": exc.status}
            except (PeerError, LedgerError) as exc:
                results[position] = {"problem": exc.reason}
        outcomes = countersign_all([r for _, _, r in checked], self.ledger.signer, key)
        signed: list[tuple[int, tuple[str, bytes], Receipt]] = []
        for (position, record, _), outcome in zip(checked, outcomes, strict=True):
            if isinstance(outcome, Receipt):
                signed.append((position, record, outcome))
            else:
                results[position] = {"problem": outcome.reason}
        if signed:
            try:
                await self._append_all([record for _, record, _ in signed])
                await self._keep([receipt for _, _, receipt in signed])
            except LedgerError as exc:
                for position, _, _ in signed:
                    results[position] = {"problem": exc.reason}
            else:
                for position, _, receipt in signed:
                    results[position] = receipt.countersignature_json()
        return web.json_response({"results": results})

    async def _receipt_item(
        self, item: Any, caller: str, head: TreeHead
    ) -> tuple[tuple[str, bytes], Receipt]:
        """The (agreement id, canonical bytes) of one item's record and the provider's receipt
        for it under ``head``."""
        if not isinstance(item, dict):
            raise PeerError("each item needs 'record', 'index' and 'inclusion_proof'")
        record = await self.checker.check(item.get("record"), caller, PROVIDER)
        data = item["record"].encode()  # checked canonical: the same bytes as record.canonical()
        try:
            index = int(item["index"])
            proof = [bytes.fromhex(h) for h in item.get("inclusion_proof", [])]
        except (KeyError, TypeError, ValueError):
            raise PeerError("'index' and 'inclusion_proof' (hex hashes) are required") from None
        receipt = make_receipt(leaf_hash(data), index, head, proof, record.agreement_id)
        return (record.agreement_id, data), receipt

    async def receive_records(self, request: web.Request) -> web.Response:
        """Provider side: store the consumer's signed statements once checked (see
        :mod:`connector.provenance.statements`); receipts follow in the background.

        Each record is answered on its own (``{"index"}`` or ``{"problem", "status"}``); when
        none is taken the answer is a Problem with the first refusal's status, nothing stored."""
        caller = await self._caller(request)
        _, texts = await self._items(request, "records")
        results: list[dict[str, Any]] = [{} for _ in texts]
        accepted: list[tuple[int, Record]] = []
        for position, text in enumerate(texts):
            try:
                accepted.append((position, await self.checker.check(text, caller, CONSUMER)))
            except Refused as exc:
                results[position] = {"problem": exc.reason, "status": exc.status}
            except (PeerError, LedgerError) as exc:
                results[position] = {"problem": exc.reason, "status": 400}
        if not accepted:
            first = results[0]
            status = first["status"]
            title = REFUSAL_TITLES.get(status, "Bad Request")
            raise Problem(status, title, detail=first["problem"], results=results)
        # checked canonical: the bytes sent are the record's canonical form
        data = [(r.agreement_id, texts[position].encode()) for position, r in accepted]
        try:
            indices = await self._append_all(data)
        except LedgerError as exc:
            raise Problem(503, "Service Unavailable", detail=exc.reason) from None
        owed = []
        for (position, _), (agreement_id, canonical), index in zip(
            accepted, data, indices, strict=True
        ):
            results[position] = {"index": index}
            owed.append(Owed(agreement_id, index, canonical, PROVIDER))
        if owed:
            self._owe(owed)
        return web.json_response({"results": results}, status=202)
