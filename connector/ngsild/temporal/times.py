"""Date-times as the temporal store and subscriptions keep them: UTC text that sorts correctly.

Clients send ISO 8601 with any offset (or none: taken as UTC); comparing such strings directly
would order ``10:00+02:00`` after ``09:00Z``. Everything is therefore normalized to
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` before it is stored or compared.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from connector.ngsild.errors import bad_data


def parse_time(value: Any, what: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text, or BadRequestData naming ``what``."""
    if not isinstance(value, str) or not value or len(value) > 40:
        raise bad_data(f"{what} must be an ISO 8601 date-time, got {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise bad_data(f"{what} must be an ISO 8601 date-time, got {value!r}") from None
    if "T" not in value and " " not in value:
        raise bad_data(f"{what} must be a date-time (with a time part), got {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_CANONICAL = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def normalize(value: Any, what: str) -> str:
    return utc_text(parse_time(value, what))


def stored_time(value: Any, what: str) -> str:
    """:func:`normalize` for times of stored instances, already validated when they were
    written: the broker's own timestamps are canonical and need no parse/format round trip."""
    if isinstance(value, str):
        return _stored_text(value, what)
    return normalize(value, what)


@lru_cache(maxsize=1024)  # one write records many instances stamped with the same times
def _stored_text(value: str, what: str) -> str:
    if _CANONICAL.fullmatch(value):
        return value
    return normalize(value, what)


def now_utc() -> datetime:
    return datetime.now(UTC)
