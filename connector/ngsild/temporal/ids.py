"""Instance ids of the attribute history: time-ordered UUIDs (version 7, RFC 9562 §5.7).

The history table's primary key is the instance id. Random (version 4) ids put every new row
at a random place in that index, so a group commit of a few hundred history rows dirtied
about as many index pages, each written whole to the WAL at commit and again at checkpoint:
with 50 single creates per commit that was most of the commit's page writes. Ids that grow
with time are appended at the index's right edge instead.

Layout: 48 bits of Unix time in milliseconds, the version, 12 bits of sub-millisecond time
(RFC 9562 §6.2 method 3), the variant, then 62 bits made of 30 random bits drawn once per
process and a 32-bit counter. The counter makes ids unique within a process without a system
call per id (drawing random bits from the OS releases the GIL, which the broker's writer
thread then waits to get back); the per-process bits keep processes apart (e.g. connector
replicas sharing one PostgreSQL database).
"""

from __future__ import annotations

import itertools
import os
import time

PREFIX = "urn:ngsi-ld:attribute:instance:"


def _node_text() -> str:
    """The variant and the 30 per-process random bits as the text of bits 64-95: the whole
    fourth group and the first four digits of the fifth."""
    node = int.from_bytes(os.urandom(4), "big") & 0x3FFF_FFFF
    h = f"{0b10 << 62 | node << 32:016x}"
    return f"{h[:4]}-{h[4:8]}"


_node = _node_text()
_counter = itertools.count()


def _after_fork() -> None:
    global _node, _counter
    _node = _node_text()
    _counter = itertools.count()


os.register_at_fork(after_in_child=_after_fork)


_MS: tuple[int, str] = (-1, "")


def uuid7_hex() -> str:
    """A version 7 UUID in its 8-4-4-4-12 text form."""
    global _MS
    ms, sub = divmod(time.time_ns(), 1_000_000)
    cached = _MS
    if cached[0] != ms:  # the text of the millisecond, shared by the ids made within it
        t = f"{ms & 0xFFFF_FFFF_FFFF:012x}"
        cached = _MS = (ms, f"{t[:8]}-{t[8:]}-7")
    # the sub-millisecond part in 12 bits, after the version digit
    return f"{cached[1]}{sub * 4096 // 1_000_000:03x}-{_node}{next(_counter) & 0xFFFF_FFFF:08x}"


def new_instance_id() -> str:
    """A new history instance id (``urn:ngsi-ld:attribute:instance:<uuid>``)."""
    return PREFIX + uuid7_hex()
