"""Anchoring signed tree heads on an EVM chain through the ``AgoraAnchor`` contract (web3).

Every anchor is one ``anchor(logId, size, root, timestamp)`` call whose ``Anchored`` event any
auditor can read back. The embedded default chain is web3's in-process ``EthereumTesterProvider``;
production uses any JSON-RPC node through ``HTTPProvider``. Web3 calls block, so the async entry
points run them in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from . import contracts
from .errors import AnchorError
from .evm import Contract, EthereumTesterProvider, HTTPProvider, Web3, kept_recursion_limit
from .log import Ledger
from .store import AnchorRow
from .treehead import TreeHead


def embedded_web3() -> Web3:
    """An in-process chain (eth-tester on py-evm) with funded, unlocked accounts."""
    with kept_recursion_limit():  # py-evm is imported here, on first use, and raises it
        return Web3(EthereumTesterProvider())


def http_web3(url: str, timeout: float = 30.0) -> Web3:
    """A JSON-RPC node (Besu, geth, ganache, …)."""
    return Web3(HTTPProvider(url, request_kwargs={"timeout": timeout}))


#: Gas limit for anchors on the embedded chain. ``AgoraAnchor.anchor`` uses about 92k gas the
#: first time a log is anchored and about 38k after; with a limit given, web3 sends at once
#: instead of first estimating the gas, which on eth-tester re-runs the call a dozen times (a
#: binary search) and was most of an anchor's CPU in the connector's own process.
EMBEDDED_ANCHOR_GAS = 200_000


@dataclass(frozen=True, slots=True)
class ChainAnchor:
    """One ``Anchored`` event as read from the chain."""

    log_id: bytes
    size: int
    root: bytes
    timestamp: int
    tx_hash: str
    block_number: int
    sender: str


class Anchorer:
    """Sends anchors to one deployed ``AgoraAnchor`` contract and reads them back.

    Transactions come from ``account`` (unlocked on the node) or are signed locally with
    ``private_key`` (hex), which is how production nodes are used. ``gas`` is the gas limit of
    anchor transactions; None (the default) has the node estimate it for each one.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        *,
        account: str | None = None,
        private_key: str | None = None,
        gas: int | None = None,
    ) -> None:
        self.w3 = w3
        self.contract: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(address), abi=contracts.abi()
        )
        self.private_key = private_key
        if private_key is not None:
            account = w3.eth.account.from_key(private_key).address
        self.account = account or w3.eth.accounts[0]
        self.gas = gas
        self._chain_id: int | None = None

    @property
    def address(self) -> str:
        return str(self.contract.address)

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        *,
        account: str | None = None,
        private_key: str | None = None,
        gas: int | None = None,
    ) -> Anchorer:
        """Deploy a fresh ``AgoraAnchor`` and return an anchorer bound to it (blocking); ``gas``
        is the limit of its later anchor transactions (the deployment is estimated)."""
        factory = w3.eth.contract(abi=contracts.abi(), bytecode=contracts.bytecode())
        sender = account or (
            w3.eth.account.from_key(private_key).address if private_key else w3.eth.accounts[0]
        )
        receipt = _send(w3, factory.constructor(), sender, private_key)
        return cls(w3, receipt["contractAddress"], account=sender, private_key=private_key, gas=gas)

    def anchor(self, log_id: bytes, head: TreeHead) -> AnchorRow:
        """Publish ``head`` under ``log_id`` (blocking); returns where it landed."""
        call = self.contract.functions.anchor(log_id, head.size, head.root, head.timestamp)
        receipt = _send(self.w3, call, self.account, self.private_key, self.gas)
        if self._chain_id is None:  # a node's chain id does not change: asked once
            self._chain_id = int(self.w3.eth.chain_id)
        return AnchorRow(
            size=head.size,
            root=head.root,
            timestamp=head.timestamp,
            log_id=log_id,
            chain_id=self._chain_id,
            contract=self.address,
            tx_hash=_hex(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
        )

    async def anchor_async(self, log_id: bytes, head: TreeHead) -> AnchorRow:
        return await asyncio.to_thread(self.anchor, log_id, head)

    def anchored(self, log_id: bytes | None = None, from_block: int = 0) -> list[ChainAnchor]:
        """Every ``Anchored`` event of the contract (optionally of one log), oldest first."""
        filters: dict[str, Any] = {} if log_id is None else {"logId": log_id}
        try:
            events = self.contract.events.Anchored().get_logs(
                from_block=from_block, argument_filters=filters
            )
        except Exception as exc:
            raise AnchorError(f"cannot read anchors from {self.address}: {exc}") from exc
        return [self._chain_anchor(e) for e in events]

    async def anchored_async(
        self, log_id: bytes | None = None, from_block: int = 0
    ) -> list[ChainAnchor]:
        return await asyncio.to_thread(self.anchored, log_id, from_block)

    def _chain_anchor(self, event: Any) -> ChainAnchor:
        tx = self.w3.eth.get_transaction(event["transactionHash"])
        args = event["args"]
        return ChainAnchor(
            log_id=bytes(args["logId"]),
            size=int(args["size"]),
            root=bytes(args["root"]),
            timestamp=int(args["timestamp"]),
            tx_hash=_hex(event["transactionHash"]),
            block_number=int(event["blockNumber"]),
            sender=str(tx["from"]),
        )


def _hex(value: Any) -> str:
    text = value.hex() if isinstance(value, bytes | bytearray) else str(value)
    return text if text.startswith("0x") else "0x" + text


def _send(w3: Web3, call: Any, sender: str, private_key: str | None, gas: int | None = None) -> Any:
    """Send a contract call or deployment and wait for a successful receipt; without ``gas``
    the node estimates the gas limit."""
    params: dict[str, Any] = {"from": sender}
    if gas is not None:
        params["gas"] = gas
    try:
        if private_key is None:
            tx_hash = call.transact(params)
        else:
            params["nonce"] = w3.eth.get_transaction_count(
                Web3.to_checksum_address(sender), "pending"
            )
            tx = call.build_transaction(params)
            signed = w3.eth.account.sign_transaction(tx, private_key)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    except Exception as exc:
        raise AnchorError(f"transaction failed: {exc}") from exc
    if receipt["status"] != 1:
        raise AnchorError(f"transaction {_hex(tx_hash)} reverted")
    return receipt


class AnchorScheduler:
    """Anchors the ledger's signed head every ``every_records`` records or ``every_seconds``.

    Several processes may share one log (replicas on one database). Given ``exclusive`` (an
    async context manager factory yielding whether this process may anchor now, e.g. an
    advisory lock), a due anchor is taken only while holding it, after catching up with the
    anchors others stored meanwhile: the log is anchored once per period, not once per process.
    """

    def __init__(
        self,
        ledger: Ledger,
        anchorer: Anchorer,
        *,
        every_records: int = 10_000,
        every_seconds: float = 600.0,
        poll_seconds: float = 0.2,
        exclusive: Callable[[], AbstractAsyncContextManager[bool]] | None = None,
    ) -> None:
        self.exclusive = exclusive
        self.ledger = ledger
        self.anchorer = anchorer
        self.every_records = every_records
        self.every_seconds = every_seconds
        self.poll_seconds = poll_seconds
        self.last_size = 0
        self.last_time = time.monotonic()
        self.last_error: AnchorError | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        anchors = await self.ledger.anchors()
        self.last_size = max((a.size for a in anchors), default=0)
        self._task = asyncio.create_task(self._run(), name="ledger-anchor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def due(self, size: int) -> bool:
        if size <= self.last_size:
            return False
        waited = time.monotonic() - self.last_time
        return size - self.last_size >= self.every_records or waited >= self.every_seconds

    async def anchor_now(self) -> AnchorRow | None:
        """Anchor the current signed head if the log grew since the last anchor."""
        head = await self.ledger.tree_head()
        if head.size <= self.last_size:
            return None
        row = await self.anchorer.anchor_async(self.ledger.log_id, head)
        await self.ledger.store.put_anchor(row)
        self.last_size, self.last_time = row.size, time.monotonic()
        return row

    async def catch_up(self) -> None:
        """Take the newest stored anchor (maybe another process's) as the last one."""
        anchors = await self.ledger.anchors()
        if anchors and anchors[-1].size > self.last_size:
            newest = anchors[-1]
            age_s = max(0.0, time.time() - newest.timestamp / 1000)
            self.last_size, self.last_time = newest.size, time.monotonic() - age_s

    async def _anchor_if_still_due(self) -> None:
        if self.exclusive is None:
            await self.anchor_now()
            return
        async with self.exclusive() as mine:
            if not mine:
                return  # another process anchors; its row is read before our next one
            await self.catch_up()
            if self.due(self.ledger.size):
                await self.anchor_now()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            if not self.due(self.ledger.size):
                continue
            try:
                await self._anchor_if_still_due()
                self.last_error = None
            except AnchorError as exc:  # the node may be down: keep logging, retry next tick
                self.last_error = exc
