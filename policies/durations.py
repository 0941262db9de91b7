"""A small ``xsd:duration`` (ISO 8601) type.

Python's ``timedelta`` cannot hold months or years, yet "P1M" is how data-sharing agreements talk.
A :class:`Duration` keeps months and seconds apart and is compared the way XML Schema orders
durations: by adding both to reference instants; when the answers disagree they are incomparable.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

_PATTERN = re.compile(
    r"^(?P<sign>-)?P(?!$)(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)

# XML Schema 1.1 §E.3: four instants whose month lengths differ, so month-vs-day ties show up.
_REFERENCES = (
    datetime(1696, 9, 1, tzinfo=UTC),
    datetime(1697, 2, 1, tzinfo=UTC),
    datetime(1903, 3, 1, tzinfo=UTC),
    datetime(1903, 7, 1, tzinfo=UTC),
)


class IncomparableError(ValueError):
    """Two values have no defined order (e.g. ``P1M`` and ``P30D``)."""


def add_months(when: datetime, months: int) -> datetime:
    """Add calendar months, clamping the day to the length of the target month."""
    total = when.year * 12 + (when.month - 1) + months
    year, month = divmod(total, 12)
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


@dataclass(frozen=True, slots=True)
class Duration:
    """An xsd:duration as (months, seconds); both carry the sign."""

    months: int
    seconds: Decimal
    lexical: str = ""

    @classmethod
    def parse(cls, text: str) -> Duration:
        m = _PATTERN.match(text.strip())
        if m is None or text.strip().endswith("T"):
            raise ValueError(f"{text!r} is not an ISO 8601 duration (e.g. P30D, P1M, PT12H)")
        g = m.groupdict()
        months = int(g["y"] or 0) * 12 + int(g["mo"] or 0)
        seconds = (
            Decimal(int(g["w"] or 0) * 7 * 86400)
            + Decimal(int(g["d"] or 0) * 86400)
            + Decimal(int(g["h"] or 0) * 3600)
            + Decimal(int(g["mi"] or 0) * 60)
            + Decimal(g["s"] or 0)
        )
        if g["sign"]:
            months, seconds = -months, -seconds
        return cls(months, seconds, text.strip())

    @classmethod
    def of(cls, delta: timedelta) -> Duration:
        seconds = Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 10**6
        return cls(0, seconds, "")

    def add_to(self, when: datetime) -> datetime:
        """The instant this duration after ``when`` (months first, as XML Schema does)."""
        return add_months(when, self.months) + timedelta(seconds=float(self.seconds))

    def compare(self, other: Duration, anchor: datetime | None = None) -> int:
        """-1/0/1; with an ``anchor`` the order is exact, otherwise XML Schema's partial order."""
        anchors = (anchor,) if anchor is not None else _REFERENCES
        results = set()
        for ref in anchors:
            a, b = self.add_to(ref), other.add_to(ref)
            results.add((a > b) - (a < b))
        if len(results) != 1:
            raise IncomparableError(f"durations {self} and {other} have no defined order")
        return results.pop()

    def __str__(self) -> str:
        if self.lexical:
            return self.lexical
        return format_duration(self)


def format_duration(d: Duration) -> str:
    """Canonical ISO 8601 text for a duration."""
    months, seconds = d.months, d.seconds
    neg = months < 0 or seconds < 0
    months, seconds = abs(months), abs(seconds)
    out = "-P" if neg else "P"
    y, mo = divmod(months, 12)
    days, rem = divmod(seconds, 86400)
    h, rem = divmod(rem, 3600)
    mi, s = divmod(rem, 60)
    out += f"{y}Y" if y else ""
    out += f"{mo}M" if mo else ""
    out += f"{int(days)}D" if days else ""
    if h or mi or s:
        out += "T" + (f"{int(h)}H" if h else "") + (f"{int(mi)}M" if mi else "")
        out += f"{s.normalize():f}S" if s else ""
    return out if out not in ("P", "-P") else "PT0S"


@dataclass(frozen=True, slots=True)
class Elapsed:
    """The value of ``elapsedTime``: time since a start instant, compared against durations exactly.

    Anchoring at ``start`` makes ``elapsedTime lteq P1M`` mean "until the same day next month".
    """

    start: datetime
    now: datetime

    def compare(self, other: Duration) -> int:
        end = other.add_to(self.start)
        return (self.now > end) - (self.now < end)
