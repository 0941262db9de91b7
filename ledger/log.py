"""The provenance log: group-committed durable appends, signed tree heads and proofs.

``await ledger.append(record)`` returns only after the record's transaction has committed. A single
writer task drains every append waiting at that moment into one transaction (group commit), so
concurrent appenders share the cost of one commit. The in-memory :class:`~ledger.merkle.MerkleTree`
mirrors the stored leaf hashes and catches up with rows other replicas appended.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from .bulk import paused_gc
from .errors import ProofError, StoreError
from .merkle import MerkleTree, leaf_hash
from .receipts import Receipt, make_receipt
from .records import Record
from .signing import Signer
from .store import DEFAULT_PREFIX, AnchorRow, Entry, LedgerStore
from .treehead import TreeHead, now_ms, sign_tree_head

_Pending = tuple[bytes, bytes, str, "asyncio.Future[int]"]


@dataclass(frozen=True, slots=True)
class Appended:
    """Where an acknowledged (committed) record landed."""

    index: int
    leaf_hash: bytes


class Ledger:
    """One append-only log in a database; open it with :meth:`open`."""

    def __init__(
        self,
        store: LedgerStore,
        signer: Signer,
        tree: MerkleTree,
        *,
        log_id: bytes | None = None,
        max_batch: int = 10_000,
    ) -> None:
        self.store = store
        self.signer = signer
        self.tree = tree
        self.log_id = log_id or hashlib.sha256(signer.kid.encode()).digest()
        self.max_batch = max_batch
        self._pending: list[_Pending] = []
        self._wake = asyncio.Event()
        self._tree_lock = asyncio.Lock()
        self._head: TreeHead | None = None
        self._closed = False
        self._writer: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        engine: AsyncEngine,
        signer: Signer,
        *,
        prefix: str = DEFAULT_PREFIX,
        create: bool = True,
        log_id: bytes | None = None,
        max_batch: int = 10_000,
    ) -> Ledger:
        """Open (and by default create) the log under ``prefix``; loads its leaf hashes."""
        store = LedgerStore(engine, prefix)
        if create:
            await store.create_schema()
        hashes = await store.leaf_hashes(0)
        with paused_gc():
            tree = MerkleTree(hashes)
        ledger = cls(store, signer, tree, log_id=log_id, max_batch=max_batch)
        ledger._head = await store.latest_tree_head()
        await store.start()  # the first append should not wait for a writer to start
        return ledger

    # -- appending ---------------------------------------------------------------------------

    async def append(self, record: Record) -> Appended:
        """Append one record; returns once it is committed to the database."""
        return await self.append_data(record.canonical(), record.agreement_id)

    async def append_data(self, data: bytes, agreement_id: str = "") -> Appended:
        """Append canonical leaf data (e.g. ``Record.canonical()``) under an agreement id."""
        if self._closed:
            raise StoreError("the ledger is closed")
        lh = leaf_hash(data)
        if self.store.groups_appends:
            return (await self._append_direct([(lh, data, agreement_id)]))[0]
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending.append((lh, data, agreement_id, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="ledger-writer")
        self._wake.set()
        return Appended(await future, lh)

    async def append_many(self, records: Sequence[Record]) -> list[Appended]:
        return await self.append_data_many([(r.canonical(), r.agreement_id) for r in records])

    async def append_data_many(self, items: Sequence[tuple[bytes, str]]) -> list[Appended]:
        """Append several ``(canonical data, agreement id)``; returns once all are committed
        (in order, in the next group commits, without a task per item)."""
        if self._closed:
            raise StoreError("the ledger is closed")
        if not items:
            return []
        if self.store.groups_appends:
            return await self._append_direct([(leaf_hash(d), d, a) for d, a in items])
        loop = asyncio.get_running_loop()
        pending: list[tuple[bytes, asyncio.Future[int]]] = []
        for data, agreement_id in items:
            lh = leaf_hash(data)
            future: asyncio.Future[int] = loop.create_future()
            self._pending.append((lh, data, agreement_id, future))
            pending.append((lh, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_loop(), name="ledger-writer")
        self._wake.set()
        indices = await asyncio.gather(*(f for _, f in pending))
        return [Appended(i, lh) for i, (lh, _) in zip(indices, pending, strict=True)]

    async def _append_direct(self, rows: list[tuple[bytes, bytes, str]]) -> list[Appended]:
        """Hand ``rows`` straight to a store that groups appends itself (SQLite's writer
        process takes every append queued while it commits into its next transaction). Batching
        them here instead, in a writer task that waited for each commit before handing over the
        next, cost each record several turns of a busy event loop on top of its commit."""
        first = await self.store.append_batch(rows)
        hashes = [lh for lh, _, _ in rows]
        try:
            await self._mirror(first, hashes)
        except StoreError:
            pass  # committed all the same; the next sync() reloads what the mirror missed
        return [Appended(first + i, lh) for i, lh in enumerate(hashes)]

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._commit(batch)
            if self._closed:
                return

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            first = await self.store.append_batch([(lh, d, a) for lh, d, a, _ in batch])
        except Exception as exc:  # nothing was committed: every waiter learns why
            error = exc if isinstance(exc, StoreError) else StoreError(f"append failed: {exc}")
            for *_, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        try:
            await self._mirror(first, [lh for lh, *_ in batch])
        except StoreError:
            pass  # committed all the same; the next sync() reloads what the mirror missed
        for i, (*_, future) in enumerate(batch):
            if not future.done():
                future.set_result(first + i)

    async def _mirror(self, first: int, hashes: list[bytes]) -> None:
        """Add a committed batch to the in-memory tree, after rows other replicas committed
        before it; a concurrent sync() may already have loaded some or all of it."""
        async with self._tree_lock:
            if self.tree.size < first:
                self.tree.extend(await self.store.leaf_hashes(self.tree.size, first))
            for lh in hashes[self.tree.size - first :]:
                self.tree.append(lh)

    async def close(self) -> None:
        """Commit what is pending, then stop the writer task."""
        self._closed = True
        self._wake.set()
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self.store.close()

    # -- reading -----------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self.tree.size

    async def sync(self) -> int:
        """Catch up with rows appended by other replicas sharing the database."""
        stored = await self.store.size()
        async with self._tree_lock:
            if stored > self.tree.size:
                self.tree.extend(await self.store.leaf_hashes(self.tree.size, stored))
            return self.tree.size

    async def tree_head(self, *, sync: bool = True) -> TreeHead:
        """A signed head of the current tree; re-signed only when the tree has grown."""
        size = await self.sync() if sync else self.tree.size
        if self._head is not None and self._head.size >= size:
            return self._head
        head = sign_tree_head(self.signer, size, self.tree.root(size), max(now_ms(), self._ts()))
        await self.store.put_tree_head(head)
        self._head = head
        return head

    def _ts(self) -> int:
        return self._head.timestamp if self._head else 0

    async def _ensure(self, size: int) -> None:
        if size > self.tree.size:
            await self.sync()
        if size > self.tree.size:
            raise ProofError(f"the log holds {self.tree.size} records, not {size}")

    async def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 proof that leaf ``index`` is in the tree of ``size`` leaves."""
        await self._ensure(size)
        return self.tree.inclusion_proof(index, size)

    async def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 proof that the tree of ``second`` leaves extends that of ``first``."""
        await self._ensure(second)
        return self.tree.consistency_proof(first, second)

    async def entry(self, index: int) -> Entry:
        found = await self.store.entry(index)
        if found is None:
            raise ProofError(f"no record at index {index}")
        return found

    async def entries(self, start: int = 0, end: int | None = None) -> list[Entry]:
        return await self.store.entries(start, end)

    async def receipt(self, index: int, agreement_id: str = "") -> Receipt:
        """The provider's receipt for leaf ``index`` under the current signed head."""
        head = await self.tree_head()
        if index >= head.size:
            raise ProofError(f"no record at index {index}")
        proof = self.tree.inclusion_proof(index, head.size)
        return make_receipt(self.tree.leaf(index), index, head, proof, agreement_id)

    async def keep_receipt(self, receipt: Receipt) -> None:
        """Store a receipt (issued or countersigned) for later audits."""
        await self.keep_receipts([receipt])

    async def keep_receipts(self, receipts: Sequence[Receipt]) -> None:
        """Store several receipts in one transaction (one commit for a delivered batch)."""
        await self.store.put_receipt_texts(
            [(r.agreement_id, r.index, r.to_json_text()) for r in receipts]
        )

    async def receipts(self, agreement_id: str | None = None) -> list[Receipt]:
        return [Receipt.from_json(d) for d in await self.store.receipts(agreement_id)]

    async def anchors(self) -> list[AnchorRow]:
        return await self.store.anchors()
