"""User-supplied regular expressions (idPattern, ``q``'s ``~=``) on a linear-time engine.

A backtracking engine (Python's ``re``, SQLite's REGEXP through it) takes exponential time on
patterns like ``^(.*)(.*)(.*)(.*)(.*)(.*)(.*)(.*)X``, and while it runs it holds the GIL: the
whole connector stops answering. Every pattern a client sends is therefore compiled here, with
RE2, which guarantees time linear in the text's length. RE2 has no backreferences and no
lookaround, the two features that need backtracking; a pattern using them is refused with a
detail saying which feature it used (NGSI-LD, ETSI GS CIM 009, takes ECMAScript-style patterns,
and ECMAScript has both, so a client may well send them).

ECMAScript spells a code point ``\\uXXXX`` (or ``\\u{X…}``), RE2 ``\\x{X…}``: the first is
rewritten to the second so such patterns keep working.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import re2

from connector.ngsild.errors import bad_data

#: the longest pattern accepted (characters): enough for any real id pattern, small enough
#: that compiling it costs next to nothing
MAX_PATTERN = 1024

#: RE2's memory budget for one compiled pattern (bytes); a pattern needing more is refused
_MAX_MEM = 4 << 20

_UNICODE_ESCAPE = re.compile(r"(\\*)\\u(?:\{([0-9A-Fa-f]{1,6})\}|([0-9A-Fa-f]{4}))")
_LOOKAROUND = {
    "(?=": "lookahead (?=...)",
    "(?!": "negative lookahead (?!...)",
    "(?<=": "lookbehind (?<=...)",
    "(?<!": "negative lookbehind (?<!...)",
}
_WHY = ": patterns run on RE2, a regular-expression engine without backtracking"
_BACKREF_ESCAPE = re.compile(r"invalid escape sequence: \\([1-9k])")


class PatternError(ValueError):
    """A pattern that cannot be run safely; ``reason`` says why, for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern: ``search`` is True when it matches anywhere in ``text``.

    ``prefix`` is a literal every matching text starts with ("" when there is none): a
    database that cannot run the pattern itself narrows its candidates with it."""

    source: str
    prefix: str
    _compiled: Any

    def search(self, text: str) -> bool:
        return self._compiled.search(text) is not None


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.never_capture = True  # only "does it match" is asked: no groups to track
    options.max_mem = _MAX_MEM
    return options


_OPTIONS = _options()


def _translate(source: str) -> str:
    """``\\uXXXX`` and ``\\u{X…}`` (ECMAScript) to ``\\x{X…}`` (RE2), escaped backslashes kept."""

    def repl(m: re.Match[str]) -> str:
        slashes = m.group(1)
        if len(slashes) % 2:  # "\\u" is a literal backslash followed by "u"
            return m.group(0)
        return f"{slashes}\\x{{{m.group(2) or m.group(3)}}}"

    return _UNICODE_ESCAPE.sub(repl, source)


_META = frozenset(".^$*+?()[]{}|\\")


def literal_prefix(source: str) -> str:
    """The literal text right after a leading ``^``: ``^urn:ngsi-ld:Car:.*`` gives
    ``urn:ngsi-ld:Car:``. Conservative: a pattern with any ``|`` (the ``^`` might bind to one
    alternative only) or a leading flag group has none, and a literal followed by a
    quantifier that may drop it (``?``, ``*``, ``{``) ends the prefix before it."""
    if not source.startswith("^") or "|" in source:
        return ""
    out: list[str] = []
    i = 1
    while i < len(source):
        c = source[i]
        if c == "\\":
            # an escaped punctuation character is itself; \d, \x{..}, \Q... are not literals
            if i + 1 >= len(source) or source[i + 1].isalnum() or source[i + 1].isspace():
                break
            literal, step = source[i + 1], 2
        elif c in _META:
            break
        else:
            literal, step = c, 1
        after = source[i + step : i + step + 1]
        if after in ("?", "*", "{"):
            break
        out.append(literal)
        i += step
        if after == "+":  # the literal occurs at least once; what follows may repeat it
            break
    return "".join(out)


def _explain(source: str, message: str) -> str:
    for opener, feature in _LOOKAROUND.items():
        if f"invalid perl operator: {opener}" in message:
            return f"{feature} is not supported{_WHY}"
    if _BACKREF_ESCAPE.search(message):
        return f"backreferences (\\1, \\k<name>) are not supported{_WHY}"
    if "pattern too large" in message:
        return "the pattern is too complex to run in bounded memory"
    return f"not a regular expression: {message}"


@functools.lru_cache(maxsize=512)
def compile_pattern(source: str) -> Pattern:
    """The compiled pattern, or PatternError saying why it is refused (cached: the same
    subscriptions and queries come back again and again)."""
    if len(source) > MAX_PATTERN:
        raise PatternError(f"the pattern is longer than {MAX_PATTERN} characters")
    try:
        compiled = re2.compile(_translate(source), _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else ""
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise PatternError(_explain(source, message)) from None
    return Pattern(source, literal_prefix(source), compiled)


def checked_pattern(source: object, what: str = "idPattern") -> Pattern:
    """The compiled pattern of a request's ``what``, or BadRequestData saying why not."""
    if not isinstance(source, str):
        raise bad_data(f"{what} must be a regular expression (a string)")
    try:
        return compile_pattern(source)
    except PatternError as exc:
        raise bad_data(f"{what} is refused: {exc.reason}") from None
