"""The writer of a ledger on a SQLite file, run as a process of its own.

A writer thread in the connector's process shared the GIL with the event loop: the driver lets
the GIL go around every SQLite step and takes it back after, and while the loop was busy each
take waited for the loop's next release (about a millisecond). A commit of a few records cost
five such waits, the writer thread spent most of its time waiting, and every access record
waited behind it. In a process of its own the same statements run without waiting, and the
connector's loop only writes a request to a pipe and reads the answer.

Run by :class:`ledger.store.SqliteWriter` as ``python -I -S sqlite_writer.py DB HEAD RECORDS``,
standard library only (it starts in tens of milliseconds). Messages both ways are a 4-byte
big-endian length and a pickle; the parent is the only party on the pipes. Once its connection
is open and its signals are set, it answers ``(True, "ready")`` unasked; then requests, answered
in order with ``(True, value)`` or ``(False, reason)``:

* ``("append", batches)``: each batch a list of rows ``(leaf_hash, data, agreement_id)`` → the
  first index of each batch. Appends that arrive together are committed in one transaction
  (group commit).
* ``("insert", sql, rows)``: ``executemany`` in one transaction → None.
* ``("query", sql, params)``: → list of row tuples.
* ``("stop",)``: → None, then the process exits (as it does when its input closes).
"""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import struct
import sys
from collections.abc import Callable
from typing import Any, TypeVar

HEADER = struct.Struct("!I")
T = TypeVar("T")


def durable_pragmas(conn: Any) -> None:
    """WAL, commits durable when acknowledged, and a wait (not an error) on a held lock: the
    log's settings on every connection to its file (this process's and the engine's)."""
    cursor = conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


class Writer:
    """One connection, every statement in its own ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, path: str, head_table: str, records_table: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        durable_pragmas(self.conn)  # a commit is durable when answered
        self.claim_sql = f"UPDATE {head_table} SET size = size + ? WHERE id = 1 RETURNING size"
        self.insert_sql = (
            f"INSERT INTO {records_table} (idx, leaf_hash, data, agreement_id) VALUES (?, ?, ?, ?)"
        )

    def transaction(self, work: Callable[[sqlite3.Connection], T], what: str) -> tuple[bool, Any]:
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            return False, f"{what} failed: {exc}"
        except Exception as exc:  # a bad request must not end the writer
            return False, f"{what} failed: {exc!r}"
        return True, result

    def appends(
        self, requests: list[list[list[tuple[bytes, bytes, str]]]]
    ) -> list[tuple[bool, Any]]:
        """Commit several append requests in one transaction; each answer lists the first
        index of each of its batches."""
        batches = [batch for request in requests for batch in request]
        total = sum(len(rows) for rows in batches)

        def work(conn: sqlite3.Connection) -> list[int]:
            found = conn.execute(self.claim_sql, (total,)).fetchone()
            if found is None:
                raise sqlite3.DatabaseError("the ledger head row is missing: create_schema")
            first = int(found[0]) - total
            firsts, params = [], []
            for rows in batches:
                firsts.append(first)
                for lh, data, agreement_id in rows:
                    params.append((first, lh, data, agreement_id))
                    first += 1
            conn.executemany(self.insert_sql, params)
            return firsts

        ok, result = self.transaction(work, f"append of {total} records")
        if not ok:
            return [(False, result)] * len(requests)
        answers: list[tuple[bool, Any]] = []
        for request in requests:
            answers.append((True, result[: len(request)]))
            del result[: len(request)]
        return answers

    def insert(self, sql: str, rows: list[tuple[Any, ...]]) -> tuple[bool, Any]:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(sql, rows)

        return self.transaction(work, f"write of {len(rows)} rows")

    def query(self, sql: str, params: Any) -> tuple[bool, Any]:
        try:
            return True, self.conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            return False, f"cannot read the log: {exc}"

    def handle(self, requests: list[tuple[Any, ...]]) -> tuple[list[tuple[bool, Any]], bool]:
        """Answers to ``requests`` in order, and whether to stop."""
        answers: list[tuple[bool, Any]] = []
        i = 0
        while i < len(requests):
            op = requests[i][0]
            if op == "append":
                j = i
                while j < len(requests) and requests[j][0] == "append":
                    j += 1
                answers += self.appends([list(r[1]) for r in requests[i:j]])
                i = j
                continue
            if op == "insert":
                answers.append(self.insert(requests[i][1], requests[i][2]))
            elif op == "query":
                answers.append(self.query(requests[i][1], requests[i][2]))
            elif op == "stop":
                answers.append((True, None))
                return answers, True
            else:
                answers.append((False, f"unknown request {op!r}"))
            i += 1
        return answers, False


def serve(writer: Writer, fd_in: int, fd_out: int) -> None:
    buf = bytearray()
    while True:
        chunk = os.read(fd_in, 1 << 20)
        if not chunk:  # the parent closed the pipe or is gone
            return
        buf += chunk
        requests, pos = [], 0
        while len(buf) - pos >= HEADER.size:
            (n,) = HEADER.unpack_from(buf, pos)
            if len(buf) - pos - HEADER.size < n:
                break
            start = pos + HEADER.size
            requests.append(pickle.loads(buf[start : start + n]))
            pos = start + n
        del buf[:pos]
        if not requests:
            continue
        answers, stop = writer.handle(requests)
        out = bytearray()
        for answer in answers:
            body = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
            out += HEADER.pack(len(body))
            out += body
        view = memoryview(out)
        while view:
            view = view[os.write(fd_out, view) :]
        if stop:
            return


def main(argv: list[str]) -> None:
    # Ctrl-C in a terminal and a service manager's SIGTERM reach the whole process group; the
    # connector then closes its ledger, and the writer must still be there to commit what is
    # pending. It stops when asked, or when its input closes (the connector is gone).
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):  # SIGHUP is POSIX only
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    path, head_table, records_table = argv
    writer = Writer(path, head_table, records_table)
    try:
        ready = pickle.dumps((True, "ready"), protocol=pickle.HIGHEST_PROTOCOL)
        os.write(sys.stdout.fileno(), HEADER.pack(len(ready)) + ready)  # the first answer
        serve(writer, sys.stdin.fileno(), sys.stdout.fileno())
    finally:
        writer.conn.close()


if __name__ == "__main__":
    main(sys.argv[1:])
