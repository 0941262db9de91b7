"""The ``pick`` / ``omit`` projection parameters (GS CIM 009 v1.8 §4.21, §6.3.x).

Their value is a comma-separated list of Entity members (``id``, ``type``, attribute names);
a member may carry a brace-enclosed list of the members of the Entities it links to
(``locatedAt{name,address}``), which only means something when linked entities are joined. The
grammar is checked whole: a stray ``;``, an empty member (``a,,b``), an unclosed or doubled brace
or an empty ``{}`` is the client's error (BadRequestData), never half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connector.ngsild.errors import bad_data

# attribute names (§4.6.2): no whitespace, quotes, separators or braces
_NAME = re.compile(r"[^\s,{}()<>\"'=;\\]+")


@dataclass(frozen=True)
class Projection:
    """The top-level member names, and whether any member names linked entities' members."""

    names: frozenset[str]
    nested: bool


def parse_projection(raw: str, param: str) -> Projection:
    names: set[str] = set()
    nested = False
    pos = 0
    depth = 0

    def fail(why: str) -> Exception:
        return bad_data(f"{param}={raw!r}: {why} at position {pos}")

    expect_name = True
    closed = False  # just after a '}': only ',' or another '}' may follow
    while pos < len(raw):
        if expect_name:
            m = _NAME.match(raw, pos)
            if m is None:
                raise fail("an entity member name expected")
            if depth == 0:
                names.add(m.group())
            pos = m.end()
            expect_name = False
            continue
        ch = raw[pos]
        closed = closed and ch == "}"
        if ch == ",":
            expect_name = True
        elif ch == "{":
            if closed:
                raise fail("'{' after '}'")
            depth += 1
            nested = True
            expect_name = True
        elif ch == "}":
            if depth == 0:
                raise fail("'}' without '{'")
            depth -= 1
            closed = True
        else:
            raise fail(f"unexpected {ch!r}")
        pos += 1
    if expect_name:
        raise fail("an entity member name expected")
    if depth:
        raise fail("unclosed '{'")
    return Projection(frozenset(names), nested)
