"""Exceptions of the connector runtime that are not HTTP answers."""

from __future__ import annotations


class AgoraError(Exception):
    """Base of the connector's own errors."""


class ConfigError(AgoraError):
    """A setting is missing or wrong; names the file, the key and what is expected.

    Raised at start so that an operator learns of a bad setting before any traffic arrives.
    """

    def __init__(self, source: str, key: str, expected: str, got: object = None) -> None:
        self.source = source
        self.key = key
        self.expected = expected
        self.got = got
        shown = "" if got is None else f" (got {got!r})"
        super().__init__(f"{source}: {key}: expected {expected}{shown}")
