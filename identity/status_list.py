"""Revocation and suspension with the W3C Bitstring Status List.

Issuer side: allocate a random free index per credential (random, so an index says nothing about
issuance order), flip bits, publish the list as a VC-JWT. Verifier side: fetch the list through
an injectable fetcher, verify it was signed by the credential's own issuer, cache it by TTL and
read the bit. Unknown status mechanisms and unreachable lists fail closed.

A status list is attacker-chosen input twice over: any trusted issuer can point a credential at
as many lists as it likes, and a few kilobytes of GZIP inflate to megabytes. So the verifier
bounds the entries per credential, the bytes one presentation may make it fetch and inflate
(inflation stops *at* the bound, it never produces more), and its cache by bytes (an LRU).
"""

from __future__ import annotations

import base64
import gzip
import secrets
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
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
#: The largest list an issuer's own state may decode to (the issuer side trusts its database).
MAX_DECODED_BYTES = 16 * 1024 * 1024
#: Verifier side: one list may inflate to at most this (64 times the spec's minimum size).
MAX_LIST_BYTES = 1024 * 1024
#: Verifier side: credentialStatus entries one credential may carry (revocation + suspension
#: is what issuers need; more only multiplies fetches).
MAX_STATUS_ENTRIES = 4
#: Verifier side: what the status checks of one presentation may fetch (the list credentials'
#: bytes) and inflate, over all its credentials. Lists already cached cost nothing.
MAX_FETCHED_PER_PRESENTATION = 1024 * 1024
MAX_INFLATED_PER_PRESENTATION = 4 * 1024 * 1024
#: Verifier side: total bytes of decoded lists kept in the cache.
MAX_CACHE_BYTES = 32 * 1024 * 1024


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
    def decode(cls, encoded: str, max_bytes: int = MAX_DECODED_BYTES) -> Bitstring:
        """Decode ``encodedList``; inflation stops after ``max_bytes`` + 1 bytes (a GZIP bomb
        costs at most that much memory) and a longer list raises ``STATUS_TOO_LARGE``."""
        if not isinstance(encoded, str) or not encoded.startswith("u"):
            raise IdentityError(Reason.MALFORMED, "encodedList must be multibase base64url")
        try:
            raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
            inflater = zlib.decompressobj(wbits=31)
            data = inflater.decompress(raw, max_bytes + 1)
        except (ValueError, zlib.error) as exc:
            raise IdentityError(Reason.MALFORMED, f"encodedList does not decode: {exc}") from exc
        if len(data) > max_bytes:
            raise IdentityError(
                Reason.STATUS_TOO_LARGE, f"status list inflates beyond {max_bytes} bytes"
            )
        if not inflater.eof:
            raise IdentityError(Reason.MALFORMED, "encodedList is a truncated GZIP stream")
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

    @property
    def size(self) -> int:
        return self.bits.size // 8


@dataclass
class StatusBudget:
    """What the status checks of one presentation may still fetch and inflate.

    :class:`DcpVerifier` makes one per ``verify_caller``; a check without one gets its own.
    """

    fetched: int = MAX_FETCHED_PER_PRESENTATION
    inflated: int = MAX_INFLATED_PER_PRESENTATION
    max_fetched: int = field(init=False)
    max_inflated: int = field(init=False)

    def __post_init__(self) -> None:
        self.max_fetched, self.max_inflated = self.fetched, self.inflated

    def before_fetch(self, url: str) -> None:
        if self.fetched <= 0:
            raise CredentialError(
                Reason.STATUS_TOO_LARGE,
                f"status list {url}: this presentation's status lists exceed "
                f"{self.max_fetched} bytes fetched",
            )

    def charge_fetched(self, url: str, size: int) -> None:
        self.fetched -= size
        if self.fetched < 0:
            raise CredentialError(
                Reason.STATUS_TOO_LARGE,
                f"status list {url}: this presentation's status lists exceed "
                f"{self.max_fetched} bytes fetched",
            )


class StatusListChecker:
    """Verifier side: check every ``BitstringStatusListEntry`` of a credential."""

    def __init__(
        self,
        fetcher: StatusListFetcher,
        resolver: DidResolver,
        *,
        ttl: float = 300.0,
        max_entries: int = 10_000,
        max_cache_bytes: int = MAX_CACHE_BYTES,
        max_list_bytes: int = MAX_LIST_BYTES,
        max_status_entries: int = MAX_STATUS_ENTRIES,
        max_fetched_per_presentation: int = MAX_FETCHED_PER_PRESENTATION,
        max_inflated_per_presentation: int = MAX_INFLATED_PER_PRESENTATION,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetcher = fetcher
        self._resolver = resolver
        self._ttl = ttl
        self._max = max_entries
        self._max_bytes = max_cache_bytes
        self._max_list = max_list_bytes
        self._max_status = max_status_entries
        self._per_presentation = (max_fetched_per_presentation, max_inflated_per_presentation)
        self._clock = clock
        self._cache: OrderedDict[str, _CachedList] = OrderedDict()
        self._cached_bytes = 0

    @property
    def cached_bytes(self) -> int:
        """Bytes of decoded lists the cache holds now (never above ``max_cache_bytes``)."""
        return self._cached_bytes

    @property
    def max_cache_bytes(self) -> int:
        return self._max_bytes

    def budget(self) -> StatusBudget:
        """A fresh per-presentation budget with this checker's bounds."""
        fetched, inflated = self._per_presentation
        return StatusBudget(fetched, inflated)

    def invalidate(self, url: str | None = None) -> None:
        if url is None:
            self._cache.clear()
            self._cached_bytes = 0
        else:
            self._drop(url)

    def _drop(self, url: str) -> None:
        gone = self._cache.pop(url, None)
        if gone is not None:
            self._cached_bytes -= gone.size

    def _remember(self, url: str, entry: _CachedList) -> None:
        self._drop(url)
        if entry.size > self._max_bytes:
            return  # used for this check, never held
        while self._cache and (
            self._cached_bytes + entry.size > self._max_bytes or len(self._cache) >= self._max
        ):
            _, oldest = self._cache.popitem(last=False)
            self._cached_bytes -= oldest.size
        self._cache[url] = entry
        self._cached_bytes += entry.size

    async def _load(self, url: str, budget: StatusBudget) -> _CachedList:
        now = self._clock()
        hit = self._cache.get(url)
        if hit is not None and hit.expires > now:
            self._cache.move_to_end(url)
            return hit
        budget.before_fetch(url)
        try:
            token = await self._fetcher.fetch(url)
            budget.charge_fetched(url, len(token))
            vc = await verify_credential_jwt(token, self._resolver, now=now)
        except CredentialError as exc:
            if exc.reason is Reason.STATUS_TOO_LARGE:
                raise
            raise CredentialError(
                Reason.STATUS_UNAVAILABLE, f"status list {url}: {exc.reason}: {exc.detail}"
            ) from exc
        except IdentityError as exc:
            raise CredentialError(
                Reason.STATUS_UNAVAILABLE, f"status list {url}: {exc.reason}: {exc.detail}"
            ) from exc
        if not vc.has_type("BitstringStatusListCredential") or vc.id != url:
            raise CredentialError(Reason.STATUS_UNAVAILABLE, f"{url} is not that status list")
        subject = vc.subject
        limit = min(self._max_list, budget.inflated)
        try:
            bits = Bitstring.decode(subject.get("encodedList", ""), limit)
        except IdentityError as exc:
            if exc.reason is not Reason.STATUS_TOO_LARGE:
                raise CredentialError(exc.reason, f"status list {url}: {exc.detail}") from exc
            what = (
                f"inflates beyond {self._max_list} bytes"
                if limit == self._max_list
                else f"would take this presentation's status lists beyond "
                f"{budget.max_inflated} bytes inflated"
            )
            raise CredentialError(Reason.STATUS_TOO_LARGE, f"status list {url} {what}") from exc
        budget.inflated -= bits.size // 8
        expires = now + self._ttl
        if vc.valid_until is not None:
            expires = min(expires, vc.valid_until)
        entry = _CachedList(expires, vc.issuer, str(subject.get("statusPurpose")), bits)
        self._remember(url, entry)
        return entry

    async def check(
        self, credential: VerifiedCredential, budget: StatusBudget | None = None
    ) -> None:
        """Raise unless every status entry says valid; ``budget`` is shared by the credentials
        of one presentation."""
        budget = budget or self.budget()
        if len(credential.status) > self._max_status:
            raise CredentialError(
                Reason.STATUS_TOO_LARGE,
                f"credential {credential.id} carries {len(credential.status)} status entries, "
                f"at most {self._max_status} are accepted",
            )
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
            listed = await self._load(url, budget)
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
