"""EVM: prepaid in an ERC-20 token (``ledger/contracts/AgoraToken.sol``) on the chain the ledger
anchors on — the embedded eth-tester chain in the demo, any JSON-RPC chain in production.

The consumer's connector calls ``pay(payee, amount, reference)`` with the SHA-256 of the agreement
id as ``reference``; the provider reads the receipt and checks, before it opens access: the
transaction succeeded with enough confirmations, and a ``Payment`` log *of the configured token
contract* names the reference, the payer, the payee and the amount due. A failed check raises
:class:`EvmPaymentError` naming what was expected and found. Web3 calls block: callers run them
in a thread.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from web3 import Web3
from web3.logs import DISCARD
from web3.providers.eth_tester import EthereumTesterProvider

from ledger import contracts
from marketplace.money import EXACT

TOKEN = "AgoraToken"
#: gas limit of a payment on the embedded chain (skips eth-tester's slow estimation)
PAY_GAS = 120_000


class EvmPaymentError(Exception):
    def __init__(self, reason: str, *, field: str, expected: Any, found: Any) -> None:
        self.reason, self.field, self.expected, self.found = reason, field, expected, found
        super().__init__(f"{field}: {reason} (expected {expected}, found {found})")


def reference(agreement_id: str) -> bytes:
    """The payment reference of an agreement: SHA-256 of its id (bytes32)."""
    return hashlib.sha256(agreement_id.encode()).digest()


def units(amount: Decimal, decimals: int) -> int:
    """``amount`` in the token's smallest units, exactly (a fraction of a unit is refused)."""
    scaled = amount.scaleb(decimals, EXACT)
    if scaled != scaled.to_integral_value():
        raise EvmPaymentError(
            "the amount has more decimals than the token",
            field="amount",
            expected=f"<= {decimals} decimals",
            found=f"{amount:f}",
        )
    return int(scaled)


_EMBEDDED: dict[str, Any] = {}
_LOCK = threading.Lock()
#: web3 calls of this process, one at a time: eth-tester's chain is not thread-safe
_CALLS = threading.RLock()


def embedded_chain() -> tuple[Web3, str]:
    """One in-process chain and demo token per process, so that the connectors of one demo (or
    test) pay each other on the same chain: (web3, token address). Account 0 holds the supply."""
    with _LOCK:
        if not _EMBEDDED:
            w3 = Web3(EthereumTesterProvider())
            address = deploy_token(w3, w3.eth.accounts[0], "Agora Euro", "aEUR", 2, 10**12)
            _EMBEDDED.update(w3=w3, token=address)
        return _EMBEDDED["w3"], _EMBEDDED["token"]


def deploy_token(w3: Web3, account: str, name: str, symbol: str, decimals: int, supply: int) -> str:
    factory = w3.eth.contract(abi=contracts.abi(TOKEN), bytecode=contracts.bytecode(TOKEN))
    tx = factory.constructor(name, symbol, decimals, supply).transact({"from": account})
    receipt = w3.eth.wait_for_transaction_receipt(tx, timeout=120)
    return str(receipt["contractAddress"])


@dataclass(frozen=True)
class VerifiedPayment:
    transaction: str
    payer: str
    payee: str
    units: int
    block: int


class TokenChain:
    """One token contract on one chain."""

    def __init__(self, w3: Web3, token: str, gas: int | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(token)
        self.token = w3.eth.contract(address=self.address, abi=contracts.abi(TOKEN))
        self.gas = gas
        self._decimals: int | None = None

    @property
    def decimals(self) -> int:
        if self._decimals is None:
            with _CALLS:
                self._decimals = int(self.token.functions.decimals().call())
        return self._decimals

    def balance(self, account: str) -> int:
        with _CALLS:
            return int(self.token.functions.balanceOf(Web3.to_checksum_address(account)).call())

    def transfer(self, sender: str, to: str, amount_units: int) -> str:
        """A plain ERC-20 transfer (no reference): funding an account, or a careless payment."""
        call = self.token.functions.transfer(Web3.to_checksum_address(to), amount_units)
        return self._send(call, sender)

    def pay(self, payer: str, payee: str, amount_units: int, ref: bytes) -> str:
        call = self.token.functions.pay(Web3.to_checksum_address(payee), amount_units, ref)
        return self._send(call, payer)

    def _send(self, call: Any, sender: str) -> str:
        params: dict[str, Any] = {"from": Web3.to_checksum_address(sender)}
        if self.gas is not None:
            params["gas"] = self.gas
        with _CALLS:
            tx = call.transact(params)
            receipt = self.w3.eth.wait_for_transaction_receipt(tx, timeout=120)
        if receipt["status"] != 1:
            raise EvmPaymentError(
                "the payment transaction reverted", field="transaction", expected=1, found=0
            )
        return "0x" + bytes(tx).hex()

    def verify(
        self,
        transaction: str,
        *,
        payer: str,
        payee: str,
        amount_units: int,
        ref: bytes,
        confirmations: int,
    ) -> VerifiedPayment:
        """Check a payment's receipt; :class:`EvmPaymentError` says what does not match."""
        with _CALLS:
            return self._verify(transaction, payer, payee, amount_units, ref, confirmations)

    def _verify(
        self,
        transaction: str,
        payer: str,
        payee: str,
        amount_units: int,
        ref: bytes,
        confirmations: int,
    ) -> VerifiedPayment:
        try:
            receipt = self.w3.eth.get_transaction_receipt(transaction)  # type: ignore[arg-type]
        except Exception:  # web3 raises TransactionNotFound, or a ValueError for a bad hash
            raise EvmPaymentError(
                "no such transaction on the chain",
                field="transaction",
                expected="a mined transaction",
                found=transaction,
            ) from None
        if receipt["status"] != 1:
            raise EvmPaymentError(
                "the transaction reverted", field="transaction", expected="success", found="revert"
            )
        depth = self.w3.eth.block_number - receipt["blockNumber"] + 1
        if depth < confirmations:
            raise EvmPaymentError(
                "not enough confirmations yet",
                field="confirmations",
                expected=f">= {confirmations}",
                found=depth,
            )
        ours = [
            log
            for log in receipt["logs"]
            if Web3.to_checksum_address(log["address"]) == self.address
        ]
        events = self.token.events.Payment().process_receipt(
            {**receipt, "logs": ours}, errors=DISCARD
        )
        if not events:
            raise EvmPaymentError(
                "the transaction holds no Payment of the accepted token",
                field="token",
                expected=self.address,
                found=sorted({Web3.to_checksum_address(lg["address"]) for lg in receipt["logs"]})
                or "no token log",
            )
        args = events[0]["args"]
        checks = (
            ("reference", "0x" + bytes(args["ref"]).hex(), "0x" + ref.hex()),
            ("payer", args["from"], Web3.to_checksum_address(payer)),
            ("payee", args["to"], Web3.to_checksum_address(payee)),
            ("amount", int(args["value"]), amount_units),
        )
        for field, found, expected in checks:
            if found != expected:
                raise EvmPaymentError(
                    f"the payment's {field} is not the one due",
                    field=field,
                    expected=expected,
                    found=found,
                )
        return VerifiedPayment(
            transaction, args["from"], args["to"], int(args["value"]), receipt["blockNumber"]
        )
