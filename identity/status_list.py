"""Revocation and suspension with the W3C Bitstring Status List.

Issuer side: allocate a random free index per credential (random, so an index says nothing about
issuance order), flip bits, publish the list as a VC-JWT. Verifier side: fetch the list through
an injectable fetcher, verify it was signed by the credential's own issuer, cache it by TTL and
read the bit. Unknown status mechanisms and unreachable lists fail closed.
"""

from __future__ import annotations

import base64
import gzip
import secrets
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .contexts import CREDENTIALS_V2, STATUS_LIST_V1
from .credentials import (
    VerifiedCredential,
    issue_credential,
    to_xsd_datetime,
    verify_credential_jwt,
)
from .errors import CredentialError, IdentityError, Reason
from .http_guard import GuardedHttp
from .resolver import DidResolver
from .signer import Participant

MIN_BITS = 131_072  # 16 KiB, the spec's minimum for herd privacy
MAX_DECODED_BYTES = 16 * 1024 * 1024  # refuses gzip bombs


class StatusPurpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


class Bitstring:
    """Bits addressed from the left: index 0 is the most significant bit of byte 0."""

    def __init__(self, size: int = MIN_BITS, data: bytes | None = None) -> None:
        if size % 8:
            raise ValueError("size must be a multiple of 8")
        self._bytes = bytearray(data if data is not None else bytes(size // 8))
        self.size = len(self._bytes) * 8

    def __getitem__(self, index: int) -> bool:
        if not 0 <= index < self.size:
            raise IndexError(index)
        return bool(self._bytes[index >> 3] & (0x80 >> (index & 7)))

    def set(self, index: int, value: bool = True) -> None:
        if not 0 <= index < self.size:
            raise IndexError(index)
        if value:
            self._bytes[index >> 3] |= 0x80 >> (index & 7)
        else:
            self._bytes[index >> 3] &= ~(0x80 >> (index & 7)) & 0xFF

    def encode(self) -> str:
        """Multibase base64url (prefix ``u``, no padding) of the GZIP-compressed bits."""
        packed = gzip.compress(bytes(self._bytes), mtime=0)
        return "u" + base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")

    @classmethod
    def decode(cls, encoded: str) -> Bitstring:
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise IdentityError(Reason.MALFORMED, "encodedList must be multibase base64url")
        try:
            raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
            inflater = zlib.decompressobj(wbits=31)
            data = inflater.decompress(raw, MAX_DECODED_BYTES)
            if inflater.unconsumed_tail:
                raise IdentityError(Reason.MALFORMED, "status list is too large")
        except (ValueError, zlib.error) as exc:
            raise IdentityError(Reason.MALFORMED, f"encodedList does not decode: {exc}") from exc
        return cls(len(data) * 8, data)

    def to_bytes(self) -> bytes:
        return bytes(self._bytes)


class StatusListIssuer:
    """One status list (one purpose) published at ``url``; the caller persists ``to_json()``."""

    def __init__(
        self,
        issuer: Participant,
        url: str,
        purpose: StatusPurpose | str = StatusPurpose.REVOCATION,
        *,
        size: int = MIN_BITS,
        bits: Bitstring | None = None,
        allocated: Bitstring | None = None,
    ) -> None:
        self.issuer = issuer
        self.url = url
        self.purpose = StatusPurpose(purpose)
        self.bits = bits or Bitstring(size)
        self.allocated = allocated or Bitstring(self.bits.size)
        self._free = self.bits.size - sum(bin(b).count("1") for b in self.allocated.to_bytes())

    def allocate(self) -> dict[str, Any]:
        """Reserve a random unused index and return the ``BitstringStatusListEntry`` for it."""
        if self._free <= 0:
            raise IdentityError(Reason.UNSUPPORTED, f"status list {self.url} is full")
        while True:
            index = secrets.randbelow(self.bits.size)
            if not self.allocated[index]:
                break
        self.allocated.set(index)
        self._free -= 1
        return self.entry(index)

    def entry(self, index: int) -> dict[str, Any]:
        return {
            "id": f"{self.url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": self.purpose.value,
            "statusListIndex": str(index),
            "statusListCredential": self.url,
        }

    def set_status(self, index: int, value: bool = True) -> None:
        """Set (revoke/suspend) or clear (reinstate) the bit; publish a new list afterwards."""
        self.bits.set(index, value)

    def issue_credential(self, *, valid_for: float = 86_400.0, now: float | None = None) -> str:
        now = time.time() if now is None else now
        credential = {
            "@context": [CREDENTIALS_V2, STATUS_LIST_V1],
            "id": self.url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.issuer.did,
            "validFrom": to_xsd_datetime(now),
            "validUntil": to_xsd_datetime(now + valid_for),
            "credentialSubject": {
                "id": f"{self.url}#list",
                "type": "BitstringStatusList",
                "statusPurpose": self.purpose.value,
                "encodedList": self.bits.encode(),
            },
        }
        return issue_credential(self.issuer, credential, now=now)

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "purpose": self.purpose.value,
            "bits": self.bits.encode(),
            "allocated": self.allocated.encode(),
        }

    @classmethod
    def from_json(cls, issuer: Participant, data: dict[str, Any]) -> StatusListIssuer:
        return cls(
            issuer,
            data["url"],
            data["purpose"],
            bits=Bitstring.decode(data["bits"]),
            allocated=Bitstring.decode(data["allocated"]),
        )


class StatusListFetcher(Protocol):
    async def fetch(self, url: str) -> str:
        """Return the status list credential at ``url`` as a VC-JWT."""
        ...


class HttpStatusListFetcher:
    """Fetch status list credentials over the same SSRF-guarded client as DID resolution."""

    def __init__(self, http: GuardedHttp) -> None:
        self._http = http

    async def fetch(self, url: str) -> str:
        status, body = await self._http.request_bytes(
            "GET",
            url,
            headers={"Accept": "application/vc+jwt"},
            error_reason=Reason.STATUS_UNAVAILABLE,
        )
        if status != 200:
            raise CredentialError(Reason.STATUS_UNAVAILABLE, f"{url} answered HTTP {status}")
        return body.decode("ascii", errors="replace").strip()


@dataclass(frozen=True)
class _CachedList:
    expires: float
    issuer: str
    purpose: str
    bits: Bitstring


class StatusListChecker:
    """Verifier side: check every ``BitstringStatusListEntry`` of a credential."""

    def __init__(
        self,
        fetcher: StatusListFetcher,
        resolver: DidResolver,
        *,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetcher = fetcher
        self._resolver = resolver
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._cache: dict[str, _CachedList] = {}

    def invalidate(self, url: str | None = None) -> None:
        if url is None:
            self._cache.clear()
        else:
            self._cache.pop(url, None)

    async def _load(self, url: str) -> _CachedList:
        now = self._clock()
        hit = self._cache.get(url)
        if hit is not None and hit.expires > now:
            return hit
        try:
            token = await self._fetcher.fetch(url)
            vc = await verify_credential_jwt(token, self._resolver, now=now)
        except IdentityError as exc:
            raise CredentialError(
                Reason.STATUS_UNAVAILABLE, f"status list {url}: {exc.reason}: {exc.detail}"
            ) from exc
        if not vc.has_type("BitstringStatusListCredential") or vc.id != url:
            raise CredentialError(Reason.STATUS_UNAVAILABLE, f"{url} is not that status list")
        subject = vc.subject
        bits = Bitstring.decode(subject.get("encodedList", ""))
        expires = now + self._ttl
        if vc.valid_until is not None:
            expires = min(expires, vc.valid_until)
        entry = _CachedList(expires, vc.issuer, str(subject.get("statusPurpose")), bits)
        if len(self._cache) >= self._max:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = entry
        return entry

    async def check(self, credential: VerifiedCredential) -> None:
        for status in credential.status:
            if status.get("type") != "BitstringStatusListEntry":
                raise CredentialError(
                    Reason.STATUS_UNAVAILABLE, f"unsupported status type {status.get('type')!r}"
                )
            url = status.get("statusListCredential")
            purpose = status.get("statusPurpose")
            try:
                index = int(status.get("statusListIndex", ""))
            except ValueError:
                raise CredentialError(
                    Reason.INVALID_CLAIMS, "statusListIndex must be an integer"
                ) from None
            if not isinstance(url, str) or purpose not in ("revocation", "suspension"):
                raise CredentialError(Reason.INVALID_CLAIMS, "malformed BitstringStatusListEntry")
            listed = await self._load(url)
            if listed.issuer != credential.issuer:
                raise CredentialError(
                    Reason.ISSUER_MISMATCH, f"status list {url} is not signed by the VC issuer"
                )
            if listed.purpose != purpose:
                raise CredentialError(Reason.INVALID_CLAIMS, f"{url} is a {listed.purpose} list")
            if not 0 <= index < listed.bits.size:
                raise CredentialError(Reason.INVALID_CLAIMS, f"index {index} outside the list")
            if listed.bits[index]:
                reason = Reason.REVOKED if purpose == "revocation" else Reason.SUSPENDED
                raise CredentialError(reason, f"credential {credential.id} is {reason.value}")
