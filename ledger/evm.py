"""web3 and its in-process chain, imported without the recursion limit they leave behind.

py_ecc (imported by web3) raises ``sys.setrecursionlimit`` to 100,000 and py-evm (imported when
the embedded chain starts) to at least 12,288, for the whole interpreter. With such a limit a
C-level recursion — the stdlib JSON decoder on a body of 100,000 ``[`` — overflows the thread's
stack and kills the process (SIGSEGV) instead of raising ``RecursionError``. Every import of
web3 in Agora goes through this module, which puts the limit back to what it was.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def kept_recursion_limit() -> Iterator[None]:
    """Run the body (an import, a provider's construction) and restore the recursion limit."""
    limit = sys.getrecursionlimit()
    try:
        yield
    finally:
        sys.setrecursionlimit(limit)


with kept_recursion_limit():
    from web3 import Web3
    from web3.contract import Contract
    from web3.providers.eth_tester import EthereumTesterProvider
    from web3.providers.rpc import HTTPProvider


__all__ = ["Contract", "EthereumTesterProvider", "HTTPProvider", "Web3", "kept_recursion_limit"]
