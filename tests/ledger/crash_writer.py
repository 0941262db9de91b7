"""A writer process for the crash test: appends forever, printing each acknowledged append.

Usage: python crash_writer.py <sqlalchemy-url> <table-prefix>
Each line on stdout is ``<index> <leaf hash hex>``, written only after the append was
acknowledged (committed). The test kills this process with SIGKILL mid-stream.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import create_async_engine

from ledger.log import Ledger
from ledger.records import Record
from ledger.signing import KeySigner
from ledger.store import sqlite_engine


async def main(url: str, prefix: str) -> None:
    if url.startswith("sqlite"):
        engine = sqlite_engine(url.removeprefix("sqlite+aiosqlite:///"))
    else:
        engine = create_async_engine(url)
    signer = KeySigner(ed25519.Ed25519PrivateKey.generate(), "did:web:crash.example#k")
    ledger = await Ledger.open(engine, signer, prefix=prefix, create=False)
    out = sys.stdout

    async def worker(w: int) -> None:
        i = 0
        while True:
            record = Record("did:web:a", "did:web:b", f"agr-{w}", "use", "permit", f"{w}:{i}")
            done = await ledger.append(record)
            out.write(f"{done.index} {done.leaf_hash.hex()}\n")
            out.flush()
            i += 1

    await asyncio.gather(*(worker(w) for w in range(64)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
